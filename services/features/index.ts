export {
  AggregationDefSchema,
  type CompiledView,
  compileView,
  defineFeatureView,
  type FeatureViewDef,
  viewsByNameOrId,
} from './definition.ts';
export { type FeaturesProject, featuresModule } from './module.ts';
export {
  createOnlineReader,
  type EntityVector,
  type OnlineReader,
  type ViewStatus,
} from './online-reader.ts';
export { runPartitionsCommand } from './repair.ts';
export { createFeaturesService, type FeaturesService } from './service.ts';
