import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { HttpServer } from '../platform/http.ts';
import { openApiDocument } from './openapi.ts';
import type { ServingService } from './service.ts';

/**
 * HTTP routes of serving. Errors map through the catalogue: 400 malformed, 404 unknown view, feature
 * service or model, 413 too many entities or too big a body, 503 + Retry-After when Redis is down.
 */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export function registerServingRoutes(http: HttpServer, service: ServingService): void {
  const openapi = openApiDocument(service.limits);
  http.post('/v1/features', async (ctx) => {
    const id = requestIdOf(ctx.req);
    return { body: await service.features(await ctx.json(), id), headers: { 'x-request-id': id } };
  });
  http.post('/v1/predict/:model', async (ctx) => {
    const id = requestIdOf(ctx.req);
    const body = await service.predict(ctx.params.model ?? '', await ctx.json(), id);
    return { body, headers: { 'x-request-id': id } };
  });
  http.get('/v1/views', () => ({
    body: {
      views: service.views().map((v) => ({ id: v.id, features: v.features.map((f) => f.name) })),
      featureServices: service.featureServices(),
    },
  }));
  http.get('/openapi.json', () => ({ body: openapi }));
}
