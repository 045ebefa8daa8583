export { FEATURES_DEFAULT_PORT, type FeaturesProject, featuresModule } from './module.ts';
export { createOnlineReader, type EntityVector, type OnlineReader } from './online-reader.ts';
export { createFeaturesService, type FeaturesService } from './service.ts';
export { shopViews } from './views/shop.ts';
