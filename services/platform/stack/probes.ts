import { connect } from 'node:net';

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Sends `request` bytes and resolves with the first `minBytes` of the answer (or null on error/timeout). */
function exchange(
  port: number,
  request: Buffer,
  minBytes: number,
  timeoutMs: number,
): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: Buffer | null) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(timeoutMs, () => done(null));
    socket.once('error', () => done(null));
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= minBytes) done(Buffer.concat(chunks));
    });
    socket.once('end', () => done(size > 0 ? Buffer.concat(chunks) : null));
  });
}

export async function redisAnswers(port: number, timeoutMs = 1_000): Promise<boolean> {
  const answer = await exchange(port, Buffer.from('PING\r\n'), 7, timeoutMs);
  return answer?.toString('latin1').startsWith('+PONG') ?? false;
}

/**
 * A Kafka ApiVersions v0 request: enough to tell a Kafka broker from any other program on the port
 * without pulling a client library into the stack manager.
 */
export async function kafkaAnswers(port: number, timeoutMs = 1_000): Promise<boolean> {
  const clientId = Buffer.from('flywheel-stack');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0); // ApiVersions
  body.writeInt16BE(0, 2);
  body.writeInt32BE(0x5eed, 4); // correlation id
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const request = Buffer.concat([Buffer.alloc(4), body]);
  request.writeInt32BE(body.length, 0);
  const answer = await exchange(port, request, 10, timeoutMs);
  return (
    answer !== null && answer.length >= 10 && answer.readInt32BE(4) === 0x5eed && answer.readInt16BE(8) === 0
  );
}

export async function httpOk(url: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
