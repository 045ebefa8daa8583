import { parentPort } from 'node:worker_threads';
import { runTrainJob, type TrainJob } from './core/train-job.ts';

/**
 * The worker side of a training job: one job per worker, progress as it goes, the result (or the error's
 * message) last. Loaded through worker-boot.mjs, which registers TypeScript in this thread.
 */
const port = parentPort!;
port.once('message', (job: TrainJob) => {
  try {
    const result = runTrainJob(job, (done, total) => port.postMessage({ kind: 'progress', done, total }));
    port.postMessage({ kind: 'done', result }, [
      result.onnx.buffer as ArrayBuffer,
      ...result.scores.map((s) => s.buffer as ArrayBuffer),
    ]);
  } catch (err) {
    port.postMessage({ kind: 'error', message: (err as Error).message, name: (err as Error).name });
  }
});
