import * as ort from 'onnxruntime-node';
import { loadSession, signatureOf } from '../registry/index.ts';
import type { TrainingData } from '../trainer/index.ts';
import { type ModelMeasurement, percentile } from './core/gate.ts';

/**
 * What the gate needs to know about a model, measured with onnxruntime-node exactly as serving runs it
 * (same session options, float32 rows, the first output): does it load with the registered width, what
 * does it answer on the holdout and on edge rows, and how long does one row take.
 */
export const LATENCY_RUNS = 200;

/** Rows no real input may reach but a broken model must survive: zeros, huge and tiny magnitudes. */
function edgeRows(width: number): Float32Array {
  const values = [0, 1, -1, 1e6, -1e6, 3.4e38, -3.4e38, 1e-30];
  const out = new Float32Array(values.length * width);
  values.forEach((v, r) => {
    out.fill(v, r * width, (r + 1) * width);
  });
  return out;
}

export async function measureModel(
  bytes: Uint8Array,
  width: number,
  holdout: Pick<TrainingData, 'rows' | 'x'>,
): Promise<ModelMeasurement> {
  let session: ort.InferenceSession;
  try {
    session = await loadSession(bytes);
  } catch (err) {
    return failed((err as Error).message);
  }
  try {
    let signature: ReturnType<typeof signatureOf>;
    try {
      signature = signatureOf(session);
    } catch (err) {
      return failed((err as Error).message);
    }
    if (signature.width !== width)
      return failed(`it takes ${signature.width} inputs; the version registers ${width} features`);
    const run = async (data: Float32Array, rows: number): Promise<Float64Array> => {
      const out = await session.run({ [signature.input]: new ort.Tensor('float32', data, [rows, width]) });
      const values = out[signature.outputs[0] as string]!.data as Float32Array;
      // One score per row: a classifier's probability, a regressor's value (the first column).
      const perRow = values.length / rows;
      return Float64Array.from({ length: rows }, (_, r) => values[r * perRow]!);
    };
    let smokeOutputs: Float64Array;
    let holdoutOutputs: Float64Array;
    try {
      smokeOutputs = await run(edgeRows(width), 8);
      holdoutOutputs = holdout.rows > 0 ? await run(holdout.x, holdout.rows) : new Float64Array(0);
    } catch (err) {
      return failed(`onnxruntime failed to run it: ${(err as Error).message}`);
    }
    return {
      loadError: null,
      smokeOutputs,
      holdoutOutputs,
      latencyP99Ms: await latencyP99(run, holdout, width),
    };
  } finally {
    await session.release();
  }
}

async function latencyP99(
  run: (data: Float32Array, rows: number) => Promise<Float64Array>,
  holdout: Pick<TrainingData, 'rows' | 'x'>,
  width: number,
): Promise<number> {
  const times: number[] = [];
  const rows = Math.max(1, holdout.rows);
  for (let i = 0; i < LATENCY_RUNS; i++) {
    const r = i % rows;
    const row = holdout.rows > 0 ? holdout.x.slice(r * width, (r + 1) * width) : new Float32Array(width);
    const t = performance.now();
    await run(row, 1);
    times.push(performance.now() - t);
  }
  return percentile(times, 99);
}

function failed(loadError: string): ModelMeasurement {
  return { loadError, smokeOutputs: [], holdoutOutputs: [], latencyP99Ms: Number.NaN };
}
