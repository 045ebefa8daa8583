import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { FlywheelError } from '../../../services/platform/errors.ts';
import { createHttpServer, type HttpServer } from '../../../services/platform/http.ts';
import { createLogger } from '../../../services/platform/logger.ts';
import { MetricsRegistry } from '../../../services/platform/metrics.ts';

const LIMIT = 1_024;
let ready = true;
let server: HttpServer;
let port: number;
let release: () => void = () => undefined;
let entered: () => void = () => undefined;

/** What the tests read from a JSON answer: an error envelope or a route's fields. */
type JsonBody = { error: { code: string; message: string }; status: string } & Record<string, unknown>;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => JsonBody;
}

/** One request on a fresh connection; `body` as chunks is sent chunked (no content-length). */
function call(
  method: string,
  path: string,
  body?: string | string[],
  headers: Record<string, string> = {},
  p = port,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: p, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const chunk of body) req.write(chunk);
      req.end();
    } else req.end(body);
  });
}

before(async () => {
  server = createHttpServer({
    name: 'test',
    logger: createLogger({}, 'silent'),
    metrics: new MetricsRegistry(),
    maxBodyBytes: LIMIT,
    ready: () => ready,
  });
  server.get('/v1/sources/:source/entities/:id', ({ params }) => ({ body: params }));
  server.post('/v1/events/:source', async ({ params, json }) => ({
    status: 202,
    body: { source: params.source, got: await json() },
  }));
  server.get('/v1/fail/:kind', ({ params }) => {
    if (params.kind === 'retriable') throw new FlywheelError('FW_KAFKA_UNAVAILABLE', 'Kafka is away');
    if (params.kind === 'coded') throw new FlywheelError('FW_EVENT_INVALID', 'bad amount');
    throw new Error('secret internals');
  });
  server.get('/v1/slow', async () => {
    entered();
    await new Promise<void>((resolve) => {
      release = resolve;
    });
    return { body: { slow: 'done' } };
  });
  port = await server.listen(0, '127.0.0.1');
});

after(() => server.close(100));

test('routes match by method and path and decode their params', async () => {
  const res = await call('GET', '/v1/sources/orders/entities/user%2F42?x=1');
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.deepEqual(res.json(), { source: 'orders', id: 'user/42' });
});

test('a JSON body is parsed and the handler picks the status', async () => {
  const res = await call('POST', '/v1/events/orders', JSON.stringify({ amount: 3 }), {
    'content-type': 'application/json',
  });
  assert.equal(res.status, 202);
  assert.deepEqual(res.json(), { source: 'orders', got: { amount: 3 } });
});

test('an unknown path is 404 FW_NOT_FOUND; a known path with another method is 405', async () => {
  const missing = await call('GET', '/v1/nothing');
  assert.equal(missing.status, 404);
  assert.equal(missing.json().error.code, 'FW_NOT_FOUND');
  const wrongMethod = await call('DELETE', '/v1/events/orders');
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.json().error.code, 'FW_BAD_REQUEST');
  assert.match(wrongMethod.json().error.message, /method DELETE is not allowed/);
});

test('malformed or empty JSON is 400 FW_BAD_REQUEST', async () => {
  const bad = await call('POST', '/v1/events/orders', '{"amount": ');
  assert.equal(bad.status, 400);
  assert.equal(bad.json().error.code, 'FW_BAD_REQUEST');
  assert.match(bad.json().error.message, /not valid JSON/);
  const empty = await call('POST', '/v1/events/orders', '');
  assert.equal(empty.status, 400);
  assert.match(empty.json().error.message, /empty/);
});

test('a body over the limit is 413 FW_PAYLOAD_TOO_LARGE, by content-length and when streamed', async () => {
  const big = JSON.stringify({ pad: 'x'.repeat(LIMIT) });
  const declared = await call('POST', '/v1/events/orders', big);
  assert.equal(declared.status, 413);
  assert.equal(declared.json().error.code, 'FW_PAYLOAD_TOO_LARGE');
  assert.match(
    declared.json().error.message,
    new RegExp(`${Buffer.byteLength(big)} bytes exceeds the ${LIMIT}-byte limit`),
  );

  const chunks = Array.from({ length: 8 }, () => 'y'.repeat(256));
  const streamed = await call('POST', '/v1/events/orders', chunks, { 'transfer-encoding': 'chunked' });
  assert.equal(streamed.status, 413);
  assert.equal(streamed.json().error.code, 'FW_PAYLOAD_TOO_LARGE');

  const fits = await call('POST', '/v1/events/orders', JSON.stringify({ pad: 'z'.repeat(LIMIT - 20) }));
  assert.equal(fits.status, 202, 'a body just under the limit is accepted');
});

test('coded errors map to their status, retriable ones add retry-after, others hide their message', async () => {
  const retriable = await call('GET', '/v1/fail/retriable');
  assert.equal(retriable.status, 503);
  assert.equal(retriable.headers['retry-after'], '1');
  assert.deepEqual(retriable.json(), { error: { code: 'FW_KAFKA_UNAVAILABLE', message: 'Kafka is away' } });
  const coded = await call('GET', '/v1/fail/coded');
  assert.equal(coded.status, 400);
  assert.equal(coded.headers['retry-after'], undefined);
  const unknown = await call('GET', '/v1/fail/other');
  assert.equal(unknown.status, 500);
  assert.deepEqual(unknown.json(), { error: { code: 'FW_INTERNAL', message: 'internal error' } });
  assert.doesNotMatch(unknown.text, /secret/);
});

test('/healthz, /readyz (following the ready probe) and /metrics', async () => {
  const health = await call('GET', '/healthz');
  assert.deepEqual([health.status, health.json()], [200, { status: 'ok', service: 'test' }]);
  assert.equal((await call('GET', '/readyz')).status, 200);
  ready = false;
  const notReady = await call('GET', '/readyz');
  ready = true;
  assert.deepEqual([notReady.status, notReady.json().status], [503, 'not ready']);

  const metrics = await call('GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  assert.match(metrics.text, /# TYPE flywheel_http_requests_total counter/);
  assert.match(
    metrics.text,
    /flywheel_http_requests_total\{route="\/readyz",service="test",status="503"\} 1/,
  );
  assert.match(
    metrics.text,
    /flywheel_http_requests_total\{route="unmatched",service="test",status="404"\} \d+/,
  );
  assert.match(
    metrics.text,
    /flywheel_http_request_seconds_count\{route="\/v1\/events\/:source",service="test"\} \d+/,
  );
});

test('close() stops accepting, waits for the in-flight request, then resolves', async () => {
  const inHandler = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const slow = call('GET', '/v1/slow');
  await inHandler;
  let closed = false;
  const closing = server.close(5_000).then(() => {
    closed = true;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(closed, false, 'close waits for the in-flight request');
  await assert.rejects(call('GET', '/healthz'), /ECONNREFUSED/, 'no new connections while closing');
  release();
  const res = await slow;
  assert.deepEqual([res.status, res.json()], [200, { slow: 'done' }]);
  await closing;
  assert.equal(closed, true);
});
