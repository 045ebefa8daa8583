export {
  createSourceCatalogue,
  DEFAULT_LIMITS,
  type Source,
  type SourceCatalogue,
  type SourceDefinition,
  type SourceLimits,
} from '../core/contracts/sources.ts';
