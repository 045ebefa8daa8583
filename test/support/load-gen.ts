/**
 * An open-loop load generator in a process of its own (the server's process must not share its event
 * loop): POSTs `body` to `url` at `rps` requests a second for `seconds`, each sent on its schedule
 * whether or not earlier ones have answered (a stalled server shows as latency, not as fewer requests),
 * and prints one JSON line: every request's send time, status, latency and answered model version.
 *   node --import tsx test/support/load-gen.ts <url> <rps> <seconds> '<json body>'
 */
import { Agent, request } from 'node:http';

const [url, rpsText, secondsText, body] = process.argv.slice(2);
const rps = Number(rpsText);
const seconds = Number(secondsText);
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const target = new URL(url!);

interface Sample {
  at: number;
  status: number;
  ms: number;
  version: number | null;
}

function send(): Promise<Sample> {
  const at = Date.now();
  const t = performance.now();
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => {
          let version: number | null = null;
          try {
            version = (JSON.parse(text) as { version?: number }).version ?? null;
          } catch {
            version = null;
          }
          resolve({ at, status: res.statusCode ?? 0, ms: performance.now() - t, version });
        });
      },
    );
    req.on('error', () => resolve({ at, status: 0, ms: performance.now() - t, version: null }));
    req.end(body);
  });
}

const pending: Promise<Sample>[] = [];
const start = performance.now();
const total = Math.round(rps * seconds);
let sent = 0;
await new Promise<void>((done) => {
  const tick = () => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rps));
    while (sent < due) {
      pending.push(send());
      sent++;
    }
    if (sent >= total) done();
    else setTimeout(tick, 1);
  };
  tick();
});
const samples = await Promise.all(pending);
agent.destroy();
process.stdout.write(`${JSON.stringify(samples)}\n`);
