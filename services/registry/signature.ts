import * as ort from 'onnxruntime-node';
import { FlywheelError } from '../platform/errors.ts';

/**
 * What serving needs to know about an ONNX model before trusting it: one float32 input of shape
 * [batch, F] (F = the number of registered features) and its output names. Checked at registration so
 * a model that cannot be served never gets a version.
 */
export interface ModelSignature {
  input: string;
  width: number;
  outputs: string[];
}

export function signatureOf(session: ort.InferenceSession): ModelSignature {
  const inputs = session.inputMetadata;
  const input = inputs[0];
  if (inputs.length !== 1 || !input?.isTensor || input.type !== 'float32' || input.shape.length !== 2)
    throw new FlywheelError(
      'FW_MODEL_INVALID',
      'a servable model has exactly one float32 input of shape [batch, features]',
    );
  const width = input.shape[1];
  if (typeof width !== 'number')
    throw new FlywheelError('FW_MODEL_INVALID', `input "${input.name}" must fix its feature axis`);
  return { input: input.name, width, outputs: [...session.outputNames] };
}

/**
 * Serving models are small (a row of features in, a score out) and requests are many: one thread per
 * run, sequential, no spinning. ORT's default pool has one spinning thread per core, which on a small
 * machine takes the CPU the HTTP server, Redis and Kafka need.
 */
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
};

export async function loadSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
  } catch (err) {
    throw new FlywheelError('FW_MODEL_INVALID', `not a loadable ONNX model: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Loads the bytes and checks the feature count; returns the signature the registry records. */
export async function checkModel(bytes: Uint8Array, features: readonly string[]): Promise<ModelSignature> {
  const session = await loadSession(bytes);
  try {
    const signature = signatureOf(session);
    if (signature.width !== features.length)
      throw new FlywheelError(
        'FW_MODEL_INVALID',
        `the model takes ${signature.width} features but ${features.length} were named`,
      );
    return signature;
  } finally {
    await session.release();
  }
}
