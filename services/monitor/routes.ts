import type { HttpServer } from '../platform/http.ts';
import type { MonitorService } from './service.ts';

/**
 * The monitor's HTTP routes: its cores' state and a model's report as JSON (what `flywheel drift
 * report` prints). An unknown model is 404 before any query runs.
 */
export function registerMonitorRoutes(http: HttpServer, service: MonitorService): void {
  http.get('/v1/monitor/status', () => ({ body: service.status() }));
  http.get('/v1/monitor/:model/report', async (ctx) => ({
    body: await service.report(ctx.params.model ?? ''),
  }));
}
