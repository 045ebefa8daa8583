export { buildInputs, planInputs } from './model-inputs.ts';
export { type ServingProject, servingModule } from './module.ts';
export { openApiDocument } from './openapi.ts';
export { parseFeaturesRequest, parsePredictRequest } from './requests.ts';
export { registerServingRoutes } from './routes.ts';
export { createServingService, type ServingService } from './service.ts';
