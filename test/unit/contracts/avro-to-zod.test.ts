import assert from 'node:assert/strict';
import { test } from 'node:test';
import avro from 'avsc';
import { avroToZod, contractIssues, describeIssues } from '../../../services/core/contracts/index.ts';
import { createRng, type Rng } from '../core/prng.ts';

/** One schema that uses every supported Avro construct. */
const EVERYTHING = {
  type: 'record',
  name: 'Everything',
  namespace: 'dev.flywheel.test',
  fields: [
    { name: 's', type: 'string' },
    { name: 'b', type: 'boolean' },
    { name: 'i', type: 'int' },
    { name: 'l', type: 'long' },
    { name: 'f', type: 'float' },
    { name: 'd', type: 'double' },
    { name: 'e', type: { type: 'enum', name: 'Colour', symbols: ['RED', 'GREEN'] } },
    { name: 'e2', type: ['null', 'Colour'], default: null },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'scores', type: { type: 'map', values: 'double' }, default: {} },
    { name: 'opt', type: ['null', 'long'], default: null },
    { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'n', type: 'int', default: 7 },
    {
      name: 'events',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Line',
          fields: [
            { name: 'sku', type: 'string' },
            { name: 'amount', type: 'double' },
            { name: 'child', type: ['null', 'Line'], default: null },
          ],
        },
      },
      default: [],
    },
  ],
} as const;

const contract = avroToZod(EVERYTHING);
const avsc = avro.Type.forSchema(EVERYTHING as unknown as avro.Schema);

const valid = () => ({
  s: 'x',
  b: true,
  i: -5,
  l: 2 ** 40,
  f: 1.5,
  d: -0.25,
  e: 'RED',
  tags: ['a'],
  ts: 1_700_000_000_000,
});

function issuesFor(value: unknown) {
  const r = contract.safeParse(value);
  assert.equal(r.success, false, 'expected a rejection');
  return contractIssues(r.success ? (undefined as never) : r.error);
}

test('a valid value parses, defaults fill in, and avsc encodes the result', () => {
  const out = contract.parse(valid());
  assert.deepEqual(out.scores, {});
  assert.equal(out.opt, null);
  assert.equal(out.n, 7);
  assert.deepEqual(out.events, []);
  assert.ok(avsc.isValid(out));
  assert.deepEqual(plain(avsc.fromBuffer(avsc.toBuffer(out))), out);
});

test('each primitive rejects the wrong JS type with its field path', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['s', 1, /expected string, got number/],
    ['b', 'true', /expected boolean, got string/],
    ['i', 1.5, /expected int/],
    ['i', 2 ** 31, /32-bit integer/],
    ['i', -(2 ** 31) - 1, /32-bit integer/],
    ['l', 2 ** 53, /within ±2\^52/],
    ['l', -(2 ** 52) - 1, /within ±2\^52/],
    ['l', 0.5, /expected long/],
    ['f', 1e39, /float32/],
    ['d', 'NaN', /expected number, got string/],
    ['e', 'BLUE', /expected one of RED, GREEN/],
    ['tags', 'a', /expected array, got string/],
    ['scores', [], /expected object \(map\), got array/],
    ['opt', 'x', /expected number, got string/],
    ['ts', 'yesterday', /expected timestamp/],
    ['ts', 1.5, /expected timestamp/],
  ];
  for (const [field, value, message] of cases) {
    const issues = issuesFor({ ...valid(), [field]: value });
    assert.equal(issues.length, 1, `${field}=${String(value)}: ${describeIssues(issues)}`);
    assert.equal(issues[0]!.path, field);
    assert.match(issues[0]!.message, message, `${field}=${String(value)}`);
  }
});

test('int bounds are inclusive; long accepts ±2^52 (what avsc round-trips); null only where the union allows it', () => {
  assert.ok(contract.safeParse({ ...valid(), i: 2 ** 31 - 1 }).success);
  assert.ok(contract.safeParse({ ...valid(), i: -(2 ** 31) }).success);
  assert.ok(contract.safeParse({ ...valid(), l: -(2 ** 52) }).success);
  assert.ok(contract.safeParse({ ...valid(), opt: null, e2: 'GREEN' }).success);
  assert.match(issuesFor({ ...valid(), s: null })[0]!.message, /expected string, got null/);
});

test('timestamp-millis accepts ISO-8601 with an offset and converts to epoch ms', () => {
  assert.equal(
    contract.parse({ ...valid(), ts: '2024-05-01T12:00:00.250Z' }).ts,
    Date.UTC(2024, 4, 1, 12, 0, 0, 250),
  );
  assert.equal(contract.parse({ ...valid(), ts: '2024-05-01T14:00:00+02:00' }).ts, Date.UTC(2024, 4, 1, 12));
  // Without an offset the instant is ambiguous: refused.
  assert.match(issuesFor({ ...valid(), ts: '2024-05-01T12:00:00' })[0]!.message, /ISO-8601/);
});

test('missing and unknown fields are named by path; nested paths read events[3].amount', () => {
  const { s: _s, ...noS } = valid();
  assert.deepEqual(issuesFor(noS), [{ path: 's', message: 'required field is missing' }]);
  assert.deepEqual(issuesFor({ ...valid(), extra: 1 }), [
    { path: 'extra', message: 'unknown field (not in the Avro schema)' },
  ]);
  const events = [0, 1, 2, 3].map((k) => ({ sku: `k${k}`, amount: k === 3 ? 'ten' : k }));
  const issues = issuesFor({ ...valid(), events });
  assert.equal(describeIssues(issues), 'events[3].amount: expected number, got string');
  const deep = issuesFor({
    ...valid(),
    events: [{ sku: 'a', amount: 1, child: { sku: 'b', amount: 2, bogus: 1 } }],
  });
  assert.equal(deep[0]!.path, 'events[0].child.bogus');
  assert.equal(issuesFor({ ...valid(), scores: { 'two words': 'x' } })[0]!.path, 'scores["two words"]');
});

test('unsupported Avro constructs are refused when the contract is built, not at request time', () => {
  assert.throws(
    () => avroToZod({ type: 'record', name: 'B', fields: [{ name: 'x', type: 'bytes' }] }),
    /no JSON contract/,
  );
  assert.throws(
    () => avroToZod({ type: 'record', name: 'U', fields: [{ name: 'x', type: ['int', 'string'] }] }),
    /no JSON contract/,
  );
  assert.throws(
    () => avroToZod({ type: 'record', name: 'R', fields: [{ name: 'x', type: 'Nope' }] }),
    /not defined/,
  );
});

/** A value for an Avro type: usually right, sometimes wrong (type, range, unknown key), to probe both sides. */
function sample(rng: Rng, type: unknown, depth = 0): unknown {
  if (rng.bool(0.04))
    return rng.pick([null, 'str', 3, 2 ** 31, 1.25, true, [], {}, Number.MAX_SAFE_INTEGER + 2]);
  if (Array.isArray(type))
    return rng.bool(0.3)
      ? null
      : sample(
          rng,
          type.find((t) => t !== 'null'),
          depth,
        );
  if (typeof type === 'string') {
    switch (type) {
      case 'string':
        return rng.pick(['', 'a', 'ünï', 'x'.repeat(rng.int(0, 40))]);
      case 'boolean':
        return rng.bool(0.5);
      case 'int':
        return rng.int(-(2 ** 31), 2 ** 31 - 1);
      case 'long':
        return rng.int(-(2 ** 52), 2 ** 52) * (rng.bool(0.5) ? 1 : 2);
      case 'float':
      case 'double':
        return (rng.next() - 0.5) * 10 ** rng.int(-5, 30);
      case 'Colour':
        return rng.pick(['RED', 'GREEN']);
      case 'Line':
        return sample(rng, EVERYTHING.fields[13].type.items, depth + 1);
      default:
        throw new Error(type);
    }
  }
  const spec = type as {
    type: string;
    items?: unknown;
    values?: unknown;
    fields?: Array<{ name: string; type: unknown; default?: unknown }>;
    symbols?: string[];
    logicalType?: string;
  };
  if (spec.logicalType === 'timestamp-millis')
    return rng.bool(0.5) ? rng.int(0, 2 ** 42) : new Date(rng.int(0, 2 ** 42)).toISOString();
  switch (spec.type) {
    case 'enum':
      return rng.pick(spec.symbols!);
    case 'array':
      return Array.from({ length: depth > 2 ? 0 : rng.int(0, 3) }, () => sample(rng, spec.items, depth + 1));
    case 'map':
      return Object.fromEntries(
        Array.from({ length: rng.int(0, 3) }, (_, k) => [`k${k}`, sample(rng, spec.values, depth)]),
      );
    case 'record': {
      const out: Record<string, unknown> = {};
      for (const f of spec.fields!) {
        if (f.default !== undefined && rng.bool(0.3)) continue;
        out[f.name] = depth > 2 && Array.isArray(f.type) ? null : sample(rng, f.type, depth + 1);
      }
      if (rng.bool(0.03)) out.unexpected = 1;
      return out;
    }
    default:
      return sample(rng, spec.type, depth);
  }
}

test('property: whatever the contract accepts, avsc validates and round-trips (seeded samples)', () => {
  const seed = Number(process.env.SEED ?? 20_240_501);
  const rng = createRng(seed);
  let accepted = 0;
  let rejected = 0;
  for (let n = 0; n < 3_000; n++) {
    const value = sample(rng, EVERYTHING);
    const parsed = contract.safeParse(value);
    if (!parsed.success) {
      rejected++;
      continue;
    }
    accepted++;
    assert.ok(avsc.isValid(parsed.data), `seed ${seed} sample ${n}: ${JSON.stringify(value)}`);
    assert.deepEqual(plain(avsc.fromBuffer(avsc.toBuffer(parsed.data))), normaliseFloats(parsed.data));
  }
  // Both sides of the contract were exercised.
  assert.ok(accepted > 300 && rejected > 300, `accepted ${accepted}, rejected ${rejected}`);
});

/** avsc stores `float` in 32 bits: compare through Math.fround like the decoder does. */
function normaliseFloats(value: Record<string, unknown>) {
  return { ...value, f: Math.fround(value.f as number) };
}

/** avsc decodes records to class instances; compare as plain JSON data. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}
