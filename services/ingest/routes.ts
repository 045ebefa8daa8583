import type { HttpServer } from '../platform/http.ts';
import type { IngestService } from './service.ts';

/**
 * HTTP routes of ingest. `POST /v1/events/:source` answers 202 only after Kafka acknowledged the write;
 * errors map through the catalogue (400 invalid, 404 unknown source, 413 too large, 503 + Retry-After).
 */
export function registerIngestRoutes(http: HttpServer, service: IngestService): void {
  http.post('/v1/events/:source', async (ctx) => {
    const source = ctx.params.source ?? '';
    // Unknown source first: no point reading (or blaming) the body of a request that cannot land.
    service.sourceFor(source);
    const body = await ctx.json();
    return { status: 202, body: await service.ingest(source, body) };
  });
  http.get('/v1/sources', () => ({ body: { sources: service.describeSources() } }));
}
