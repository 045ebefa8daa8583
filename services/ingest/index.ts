export { validateBatch } from './core.ts';
export { type IngestProject, ingestModule } from './module.ts';
export { registerIngestRoutes } from './routes.ts';
export { createIngestService, type IngestResult, type IngestService } from './service.ts';
export {
  createSourceCatalogue,
  type Source,
  type SourceCatalogue,
  type SourceDefinition,
} from './sources.ts';
