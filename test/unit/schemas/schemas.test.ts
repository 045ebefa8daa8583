import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import avro from 'avsc';
import {
  loadSchemaFile,
  loadSchemaForTopic,
  SCHEMA_CATALOG,
  SCHEMAS_DIR,
  schemaFileForTopic,
} from '../../../schemas/catalog.ts';

type Json = Record<string, unknown>;

// avsc 5 leaves `timestamp-millis` unmapped unless given a logical-type class, so the platform's
// codec (and these samples) carry timestamps as epoch milliseconds.
const T0 = Date.UTC(2025, 0, 1);
const ms = (offsetMs: number) => T0 + offsetMs;

/** One realistic record per contract: it must round-trip through the binary encoding unchanged. */
const SAMPLES: Record<string, Json> = {
  'platform/dead-letter.avsc': {
    source_topic: 'events.shop',
    source_partition: 3,
    source_offset: 42,
    key: Buffer.from('u-1'),
    value: Buffer.from([0, 0, 0, 0, 1, 2, 3]),
    error_code: 'FW_DECODE_FAILED',
    error_message: 'Unknown magic byte',
    failed_at: ms(0),
    service: 'features',
    attempts: 1,
  },
  'platform/ml-drift.avsc': {
    report_id: 'fraud:amount:ks:1735689600000',
    model: 'fraud',
    feature: 'amount',
    test: 'ks',
    statistic: 0.21,
    p_value: 0.0004,
    effect_size: 0.21,
    threshold: 0.01,
    drifted: true,
    reference_window: 'run-7',
    live_window_start: ms(0),
    live_window_end: ms(3_600_000),
    reference_size: 50_000,
    live_size: 4_200,
    created_at: ms(3_600_500),
  },
  'platform/ml-retrain.avsc': {
    run_id: 'run-8',
    model: 'fraud',
    reason: 'drift',
    evidence: [
      { feature: 'amount', test: 'ks', statistic: 0.21, p_value: 0.0004, effect_size: 0.21 },
      { feature: 'country', test: 'jensen_shannon', statistic: 0.12, p_value: null, effect_size: 0.12 },
    ],
    data_window_start: ms(-86_400_000),
    data_window_end: ms(0),
    source_offsets: { 'events.shop:0': 1200, 'outcomes.shop:0': 310 },
    requested_at: ms(1000),
    requested_by: 'retrain-controller',
  },
  'platform/ml-models.avsc': {
    event_type: 'PROMOTED',
    model: 'fraud',
    version: 3,
    alias: 'champion',
    artifact_sha256: 'a'.repeat(64),
    artifact_uri: 'file:///data/artifacts/aaaa.onnx',
    metrics: { auc: 0.93, logloss: 0.21 },
    run_id: 'run-8',
    lineage: {
      dataset_window_start: ms(-86_400_000),
      dataset_window_end: ms(0),
      source_offsets: { 'events.shop:0': 1200 },
      feature_definition_version: 'fd-3f2a',
      code_version: '0.1.0',
    },
    occurred_at: ms(5000),
  },
  'platform/prediction.avsc': {
    request_id: 'req-1',
    model: 'fraud',
    model_version: 3,
    entity_key: 'e-1',
    features: { amount: 12.5, user_txn_count_1h: 3, merchant_amount_mean_1d: null },
    feature_freshness_ms: { amount: 0, user_txn_count_1h: 850 },
    output: [0.97, 0.03],
    label: 'legit',
    predicted_at: ms(10),
    latency_micros: 1800,
  },
  '../examples/shop/schemas/shop-order.avsc': {
    event_id: 'e-1',
    user_id: 'u-1',
    merchant_id: 'm-1',
    amount: 12.5,
    currency: 'EUR',
    category: 'books',
    device: null,
    country: 'DE',
    ts: ms(0),
  },
  '../examples/shop/schemas/shop-outcome.avsc': {
    event_id: 'e-1',
    user_id: 'u-1',
    is_fraud: false,
    ts: ms(86_400_000),
    reported_at: ms(90_000_000),
  },
  '../examples/rides/schemas/ride.avsc': {
    ride_id: 'r-1',
    driver_id: 42,
    city: 'berlin',
    vehicle: 'van',
    distance_km: 7.5,
    fare_eur: 18.2,
    tip_eur: null,
    rating: 5,
    ts: ms(0),
  },
  '../examples/rides/schemas/ride-duration.avsc': {
    ride_id: 'r-1',
    driver_id: 42,
    duration_min: 21.5,
    ts: ms(1_290_000),
  },
};

function avscFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const path = join(dir, d.name);
    if (d.isDirectory()) return avscFiles(path);
    return d.name.endsWith('.avsc') ? [relative(SCHEMAS_DIR, path)] : [];
  });
}

/** Every record field (nested records included) that lacks a non-empty `doc`, as `Record.field`. */
function undocumented(schema: unknown, out: string[] = []): string[] {
  if (Array.isArray(schema)) {
    for (const s of schema) undocumented(s, out);
  } else if (schema && typeof schema === 'object') {
    const s = schema as Json;
    if (s.type === 'record') {
      if (typeof s.doc !== 'string' || !s.doc.trim()) out.push(String(s.name));
      for (const f of s.fields as Json[]) {
        if (typeof f.doc !== 'string' || !f.doc.trim()) out.push(`${s.name}.${f.name}`);
        undocumented(f.type, out);
      }
    } else {
      undocumented(s.type, out);
      undocumented(s.items, out);
      undocumented(s.values, out);
    }
  }
  return out;
}

/** The platform's contracts and the example projects' own, all held to the same rules. */
const EXAMPLES_DIR = join(SCHEMAS_DIR, '../examples');
const files = [
  ...avscFiles(SCHEMAS_DIR),
  ...readdirSync(EXAMPLES_DIR).flatMap((p) => avscFiles(join(EXAMPLES_DIR, p, 'schemas'))),
].sort();

describe('Avro contracts', () => {
  it('has a sample for every .avsc and a file for every sample', () => {
    assert.deepEqual(files, Object.keys(SAMPLES).sort());
  });

  for (const file of files) {
    describe(file, () => {
      const schema = loadSchemaFile(file) as Json;

      it('parses with avsc under the dev.flywheel namespace', () => {
        const type = avro.Type.forSchema(schema as avro.Schema);
        assert.match(type.name ?? '', new RegExp(`^dev\\.flywheel\\.(\\w+\\.)?${schema.name}$`));
      });

      it('documents the record and every field', () => {
        assert.deepEqual(undocumented(schema), []);
      });

      it('round-trips a sample record', () => {
        const type = avro.Type.forSchema(schema as avro.Schema);
        const sample = SAMPLES[file]!;
        assert.ok(type.isValid(sample, { errorHook: (path) => assert.fail(`invalid at ${path.join('.')}`) }));
        const encoded = type.toBuffer(sample);
        const decoded = type.fromBuffer(encoded);
        assert.deepEqual(type.toBuffer(decoded), encoded);
        // Avro's JSON encoding compares records field by field (decoded ones are class instances).
        assert.deepEqual(JSON.parse(type.toString(decoded)), JSON.parse(type.toString(sample)));
      });

      it('rejects a record with a field of the wrong type', () => {
        const type = avro.Type.forSchema(schema as avro.Schema);
        const firstField = (schema.fields as Json[])[0]!.name as string;
        assert.equal(type.isValid({ ...SAMPLES[file], [firstField]: { wrong: true } }), false);
      });

      it('gives every nullable field a null default, so adding one stays backward compatible', () => {
        for (const f of schema.fields as Json[]) {
          if (Array.isArray(f.type) && f.type[0] === 'null')
            assert.equal(f.default, null, `${file}: ${f.name}`);
        }
      });
    });
  }
});

describe('schema catalogue', () => {
  it("maps the platform's topics to their contracts (a project's sources carry their own)", () => {
    const cases: Record<string, string> = {
      'ml.drift': 'platform/ml-drift.avsc',
      'ml.retrain': 'platform/ml-retrain.avsc',
      'ml.models': 'platform/ml-models.avsc',
      'predictions.fraud': 'platform/prediction.avsc',
      'events.shop.dlq': 'platform/dead-letter.avsc',
      'predictions.fraud.dlq': 'platform/dead-letter.avsc',
    };
    for (const [topic, file] of Object.entries(cases)) {
      assert.equal(schemaFileForTopic(topic), join(SCHEMAS_DIR, file), topic);
    }
  });

  it('refuses a topic with no declared contract', () => {
    for (const topic of ['events.shop', 'events.unknown', 'predictions.', 'ml.drifts', 'dlq']) {
      assert.throws(() => schemaFileForTopic(topic), { code: 'FW_NOT_FOUND' }, topic);
    }
  });

  it('lists only files that exist and returns copies that avsc accepts', () => {
    for (const { file } of SCHEMA_CATALOG) assert.ok(files.includes(file), file);
    const a = loadSchemaForTopic('ml.drift') as Json;
    const name = a.name;
    a.name = 'Mutated';
    assert.equal((loadSchemaForTopic('ml.drift') as Json).name, name);
    avro.Type.forSchema(loadSchemaForTopic('ml.models') as avro.Schema);
  });
});
