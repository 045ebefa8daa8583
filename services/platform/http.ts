import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FlywheelError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { MetricsRegistry } from './metrics.ts';

export interface RouteContext {
  readonly params: Record<string, string>;
  readonly req: IncomingMessage;
  /** Reads and parses the JSON body, enforcing the server's byte limit (413 above it). */
  json(): Promise<unknown>;
}

export type RouteResult = { status?: number; body: unknown; headers?: Record<string, string> } | undefined;
export type Handler = (ctx: RouteContext) => Promise<RouteResult> | RouteResult;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
  pattern: string;
}

export interface HttpServerOptions {
  name: string;
  logger: Logger;
  metrics: MetricsRegistry;
  maxBodyBytes: number;
  /** Readiness beyond "the process is up": e.g. Kafka connected, model loaded. */
  ready?: () => boolean | Promise<boolean>;
}

/**
 * The HTTP base every Flywheel service uses: a tiny router (`/v1/events/:source`), JSON in and out,
 * coded errors mapped to their catalogue status, `/healthz`, `/readyz`, `/metrics`, and a graceful
 * close that stops accepting, lets in-flight requests finish and then closes idle keep-alive sockets.
 */
export function createHttpServer(opts: HttpServerOptions) {
  const routes: Route[] = [];
  const requests = opts.metrics.counter(
    'flywheel_http_requests_total',
    'HTTP requests by service, route and status.',
  );
  const latency = opts.metrics.histogram(
    'flywheel_http_request_seconds',
    'HTTP request latency by service and route.',
  );
  let server: Server | undefined;
  let inFlight = 0;

  const add = (method: string, pattern: string, handler: Handler) => {
    routes.push({ method, pattern, parts: pattern.split('/').filter(Boolean), handler });
  };

  add('GET', '/healthz', () => ({ body: { status: 'ok', service: opts.name } }));
  add('GET', '/readyz', async () => {
    const ok = opts.ready ? await opts.ready() : true;
    return { status: ok ? 200 : 503, body: { status: ok ? 'ready' : 'not ready', service: opts.name } };
  });
  add('GET', '/metrics', () => ({
    body: opts.metrics.render(),
    headers: { 'content-type': 'text/plain; version=0.0.4' },
  }));

  function match(
    method: string,
    path: string,
  ): { route: Route; params: Record<string, string> } | 'method' | undefined {
    const parts = path.split('/').filter(Boolean);
    let methodMismatch = false;
    for (const route of routes) {
      if (route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const rp = route.parts[i]!;
        if (rp.startsWith(':')) params[rp.slice(1)] = decodeURIComponent(parts[i]!);
        else ok = rp === parts[i];
      }
      if (!ok) continue;
      if (route.method !== method) {
        methodMismatch = true;
        continue;
      }
      return { route, params };
    }
    return methodMismatch ? 'method' : undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    inFlight++;
    let pattern = 'unmatched';
    let status = 500;
    try {
      const path = (req.url ?? '/').split('?')[0]!;
      const found = match(req.method ?? 'GET', path);
      if (found === 'method')
        throw new FlywheelError('FW_BAD_REQUEST', `method ${req.method} is not allowed on ${path}`, {
          details: { status: 405 },
        });
      if (!found) throw new FlywheelError('FW_NOT_FOUND', `no route ${req.method} ${path}`);
      pattern = found.route.pattern;
      const result = await found.route.handler({
        params: found.params,
        req,
        json: () => readJson(req, opts.maxBodyBytes),
      });
      status = result?.status ?? 200;
      send(res, status, result?.body ?? null, result?.headers);
    } catch (err) {
      const fw = err instanceof FlywheelError ? err : undefined;
      status = (fw?.details?.status as number | undefined) ?? fw?.status ?? 500;
      if (!fw) opts.logger.error('unhandled error in request', { err, url: req.url });
      const headers: Record<string, string> = fw?.retriable ? { 'retry-after': '1' } : {};
      send(
        res,
        status,
        { error: fw ? fw.toJSON() : { code: 'FW_INTERNAL', message: 'internal error' } },
        headers,
      );
    } finally {
      inFlight--;
      const labels = { service: opts.name, route: pattern };
      requests.inc({ ...labels, status: String(status) });
      latency.observe(Number(process.hrtime.bigint() - started) / 1e9, labels);
    }
  }

  return {
    get: (pattern: string, handler: Handler) => add('GET', pattern, handler),
    post: (pattern: string, handler: Handler) => add('POST', pattern, handler),
    async listen(port: number, host: string): Promise<number> {
      server = createServer({ keepAliveTimeout: 30_000 }, (req, res) => void handle(req, res));
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => resolve());
      });
      const address = server.address();
      return typeof address === 'object' && address ? address.port : port;
    },
    /** Stops accepting, waits for in-flight requests (up to `graceMs`), then drops idle connections. */
    async close(graceMs = 10_000): Promise<void> {
      if (!server) return;
      const s = server;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      s.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      s.closeAllConnections();
      await closed;
    },
  };
}

export type HttpServer = ReturnType<typeof createHttpServer>;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (typeof body === 'string') {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
    res.end(body);
    return;
  }
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    req.resume();
    throw new FlywheelError(
      'FW_PAYLOAD_TOO_LARGE',
      `request body of ${declared} bytes exceeds the ${limit}-byte limit`,
    );
  }
  // Events rather than `for await`: an async iterator per request costs more than the small bodies.
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.resume();
        reject(new FlywheelError('FW_PAYLOAD_TOO_LARGE', `request body exceeds the ${limit}-byte limit`));
      } else parts.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(parts));
    req.once('error', reject);
  });
  const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
  if (text.length === 0) throw new FlywheelError('FW_BAD_REQUEST', 'request body is empty; expected JSON');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FlywheelError('FW_BAD_REQUEST', `request body is not valid JSON: ${(err as Error).message}`);
  }
}
