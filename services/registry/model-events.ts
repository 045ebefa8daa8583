import type { Producer } from 'kafkajs';
import { loadSchemaForTopic } from '../../schemas/catalog.ts';
import type { RegistryCodec } from '../platform/registry-codec.ts';
import type { ModelVersion } from './registry.ts';

/**
 * Events on `ml.models` (schemas/platform/ml-models.avsc): the steps of a model version's life that
 * other modules act on — the trainer's TRAINED (the deployer gates it) and FAILED, the deployer's
 * PROMOTED and REJECTED (serving swaps, the monitor closes its run), a rollback's ROLLED_BACK. Written
 * after the registry and pipeline_runs rows they announce, so a reader that acts on one finds them.
 */
export const MODELS_TOPIC = 'ml.models';

export type ModelEventType = 'TRAINED' | 'REGISTERED' | 'PROMOTED' | 'ROLLED_BACK' | 'REJECTED' | 'FAILED';

export interface ModelEvent {
  type: ModelEventType;
  model: string;
  /** 0 for FAILED (a run that produced no version). */
  version: number;
  alias: string | null;
  sha256: string;
  uri: string;
  metrics: Record<string, number>;
  runId: string | null;
  occurredAt: number;
  details: Record<string, unknown>;
  lineage: {
    datasetWindowStart: number;
    datasetWindowEnd: number;
    sourceOffsets: Record<string, number>;
    featureDefinitionVersion: string;
    codeVersion: string;
  };
}

/** The event announcing a step of a registered version. */
export function versionEvent(
  type: ModelEventType,
  v: ModelVersion,
  extra: { alias?: string | null; runId?: string | null; details?: Record<string, unknown> } = {},
): ModelEvent {
  const p = v.provenance;
  return {
    type,
    model: v.model,
    version: v.version,
    alias: extra.alias ?? null,
    sha256: v.sha256,
    uri: v.uri,
    metrics: v.metrics,
    runId: extra.runId ?? p.runId ?? null,
    occurredAt: Date.now(),
    details: extra.details ?? {},
    lineage: {
      datasetWindowStart: p.datasetWindow?.start ?? 0,
      datasetWindowEnd: p.datasetWindow?.end ?? 0,
      sourceOffsets: p.sourceOffsets ?? {},
      featureDefinitionVersion: p.featureDefinitionVersion ?? '',
      codeVersion: p.codeVersion ?? '',
    },
  };
}

/** A run that ended without a version. */
export function failedEvent(model: string, runId: string, details: Record<string, unknown>): ModelEvent {
  return {
    type: 'FAILED',
    model,
    version: 0,
    alias: null,
    sha256: '',
    uri: '',
    metrics: {},
    runId,
    occurredAt: Date.now(),
    details,
    lineage: {
      datasetWindowStart: 0,
      datasetWindowEnd: 0,
      sourceOffsets: {},
      featureDefinitionVersion: '',
      codeVersion: '',
    },
  };
}

export function toAvro(e: ModelEvent): object {
  return {
    event_type: e.type,
    model: e.model,
    version: e.version,
    alias: e.alias,
    artifact_sha256: e.sha256,
    artifact_uri: e.uri,
    metrics: e.metrics,
    run_id: e.runId,
    lineage: {
      dataset_window_start: e.lineage.datasetWindowStart,
      dataset_window_end: e.lineage.datasetWindowEnd,
      source_offsets: e.lineage.sourceOffsets,
      feature_definition_version: e.lineage.featureDefinitionVersion,
      code_version: e.lineage.codeVersion,
    },
    occurred_at: e.occurredAt,
    details: JSON.stringify(e.details),
  };
}

const millis = (v: unknown): number => (v instanceof Date ? v.getTime() : Number(v));

/** A decoded `ml.models` value as a ModelEvent (details that are not a JSON object read as {}). */
export function fromAvro(v: Record<string, unknown>): ModelEvent {
  const lineage = (v.lineage ?? {}) as Record<string, unknown>;
  let details: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(String(v.details || '{}')) as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      details = parsed as Record<string, unknown>;
  } catch {
    // A hand-written event's free text stays out of the structured details.
  }
  return {
    type: String(v.event_type) as ModelEventType,
    model: String(v.model),
    version: Number(v.version),
    alias: typeof v.alias === 'string' ? v.alias : null,
    sha256: String(v.artifact_sha256 ?? ''),
    uri: String(v.artifact_uri ?? ''),
    metrics: (v.metrics ?? {}) as Record<string, number>,
    runId: typeof v.run_id === 'string' ? v.run_id : null,
    occurredAt: millis(v.occurred_at),
    details,
    lineage: {
      datasetWindowStart: millis(lineage.dataset_window_start ?? 0),
      datasetWindowEnd: millis(lineage.dataset_window_end ?? 0),
      sourceOffsets: (lineage.source_offsets ?? {}) as Record<string, number>,
      featureDefinitionVersion: String(lineage.feature_definition_version ?? ''),
      codeVersion: String(lineage.code_version ?? ''),
    },
  };
}

/** Publishes model events (acks from all replicas: the loop's next step depends on each). */
export function createModelEventPublisher(deps: { producer: Producer; codec: RegistryCodec }) {
  const encoder = () => deps.codec.topicEncoder(MODELS_TOPIC, loadSchemaForTopic(MODELS_TOPIC));
  return {
    async publish(e: ModelEvent): Promise<void> {
      const encode = await encoder();
      await deps.producer.send({
        topic: MODELS_TOPIC,
        acks: -1,
        messages: [{ key: e.model, value: encode(toAvro(e)) }],
      });
    },
  };
}
