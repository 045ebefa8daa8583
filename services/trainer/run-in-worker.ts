import { Worker } from 'node:worker_threads';
import type { TrainJob, TrainResult } from './core/train-job.ts';

/**
 * Runs a training job off the event loop, in a worker thread of its own: the trainer keeps heartbeating
 * Kafka and answering /readyz while a model trains. `signal` stops it (the worker is terminated; a
 * stopped job leaves nothing behind, since nothing is written until it has finished).
 */
export function trainInWorker(
  job: TrainJob,
  opts: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<TrainResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker-boot.mjs', import.meta.url), {
      workerData: { entry: new URL('./train-worker.ts', import.meta.url).href },
    });
    const abort = () => {
      void worker.terminate();
      reject(new Error('training stopped'));
    };
    opts.signal?.addEventListener('abort', abort, { once: true });
    const finish = () => {
      opts.signal?.removeEventListener('abort', abort);
      void worker.terminate();
    };
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'progress') opts.onProgress?.(m.done, m.total);
      else {
        finish();
        if (m.kind === 'done') resolve(m.result);
        else reject(Object.assign(new Error(m.message), { name: m.name }));
      }
    });
    worker.on('error', (err) => {
      finish();
      reject(err);
    });
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`the training worker exited with code ${code}`));
    });
    worker.postMessage(job);
  });
}

type WorkerMessage =
  | { kind: 'progress'; done: number; total: number }
  | { kind: 'done'; result: TrainResult }
  | { kind: 'error'; message: string; name: string };
