import assert from 'node:assert/strict';
import { test } from 'node:test';
import avro from 'avsc';
import { avroToZod, contractIssues, describeIssues } from '../../../services/core/contracts/index.ts';
import { createRng, type Rng } from '../../support/prng.ts';

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
    ['i', 1.5, /^not an integer \(1\.5: an int is a whole number in the 32-bit range/],
    ['i', 2 ** 31, /^int out of range \(2147483648: .*32-bit range -2147483648 to 2147483647\)$/],
    ['i', -(2 ** 31) - 1, /^int out of range \(-2147483649: .*32-bit range -2147483648 to 2147483647\)$/],
    ['l', 2 ** 53, /^long out of range \(9007199254740992: .*within ±2\^52 \(±4503599627370496\)\)$/],
    ['l', -(2 ** 52) - 1, /^long out of range \(-4503599627370497: .*within ±2\^52/],
    ['l', 0.5, /^not an integer \(0\.5: a long is a whole number within ±2\^52/],
    ['f', 1e39, /^float out of range \(1e\+39: .*float32 range ±3\.4028234663852886e\+38\)$/],
    ['d', 'NaN', /^expected number, got string$/],
    ['e', 'BLUE', /^expected one of RED, GREEN, got "BLUE"$/],
    ['e', 3, /^expected one of RED, GREEN, got number$/],
    ['tags', 'a', /expected array, got string/],
    ['scores', [], /expected object \(map\), got array/],
    ['opt', 'x', /^expected number, got string$/],
    ['ts', 'yesterday', /^not an ISO-8601 date-time with an offset \("yesterday": .*2024-05-01T12:00:00Z/],
    ['ts', 1.5, /^not an integer \(1\.5: a timestamp is epoch milliseconds, a whole number within ±2\^52/],
    [
      'ts',
      true,
      /^expected timestamp: epoch milliseconds \(integer\) or ISO-8601 date-time with offset, got boolean$/,
    ],
  ];
  for (const [field, value, message] of cases) {
    const issues = issuesFor({ ...valid(), [field]: value });
    assert.equal(issues.length, 1, `${field}=${String(value)}: ${describeIssues(issues)}`);
    assert.equal(issues[0]!.path, field);
    assert.match(issues[0]!.message, message, `${field}=${String(value)}`);
  }
});

test('a number of the right JS type but out of range or not finite: the message names field, value and limit', () => {
  const INT = 'an int is a whole number in the 32-bit range -2147483648 to 2147483647';
  const LONG = 'a long is a whole number within ±2^52 (±4503599627370496)';
  const FLOAT = 'a float is a finite number within the float32 range ±3.4028234663852886e+38';
  const DOUBLE = 'a double is a finite number within ±1.7976931348623157e+308';
  const cases: Array<[string, unknown, string]> = [
    // JSON.parse turns a number beyond the double range into Infinity: ingest used to say "expected number, got number".
    [
      'd',
      JSON.parse('1e400'),
      `d: not a finite double (Infinity: out of double range; JSON.parse reads a number such as 1e400 as Infinity; ${DOUBLE})`,
    ],
    [
      'd',
      Number.NEGATIVE_INFINITY,
      `d: not a finite double (-Infinity: out of double range; JSON.parse reads a number such as -1e400 as -Infinity; ${DOUBLE})`,
    ],
    // NaN never comes out of JSON, but the SDK hands JS objects straight to the contract.
    ['d', Number.NaN, `d: not a finite double (NaN: not a number; ${DOUBLE})`],
    ['f', 3.5e38, `f: float out of range (3.5e+38: ${FLOAT})`],
    ['f', -3.5e38, `f: float out of range (-3.5e+38: ${FLOAT})`],
    [
      'f',
      Number.POSITIVE_INFINITY,
      `f: not a finite float (Infinity: out of double range; JSON.parse reads a number such as 1e400 as Infinity; ${FLOAT})`,
    ],
    ['f', Number.NaN, `f: not a finite float (NaN: not a number; ${FLOAT})`],
    ['i', 2 ** 31, `i: int out of range (2147483648: ${INT})`],
    ['i', 1.5, `i: not an integer (1.5: ${INT})`],
    ['i', Number.NaN, `i: not a finite int (NaN: not a number; ${INT})`],
    ['l', 2 ** 53, `l: long out of range (9007199254740992: ${LONG})`],
    ['l', -(2 ** 53), `l: long out of range (-9007199254740992: ${LONG})`],
    [
      'l',
      Number.POSITIVE_INFINITY,
      `l: not a finite long (Infinity: out of double range; JSON.parse reads a number such as 1e400 as Infinity; ${LONG})`,
    ],
    [
      'ts',
      2 ** 53,
      'ts: timestamp out of range (9007199254740992: a timestamp is epoch milliseconds, a whole number within ±2^52 (±4503599627370496))',
    ],
  ];
  for (const [field, value, message] of cases) {
    const issues = issuesFor({ ...valid(), [field]: value });
    assert.equal(describeIssues(issues), message, `${field}=${String(value)}`);
  }
  // Nested and in maps the path leads the same message (issues in schema field order); ingest parses with JSON.parse.
  const body = JSON.parse('{"events": [{"sku": "a", "amount": 1e400}], "scores": {"x": -1e400}}');
  assert.equal(
    describeIssues(issuesFor({ ...valid(), ...body })),
    `scores.x: not a finite double (-Infinity: out of double range; JSON.parse reads a number such as -1e400 as -Infinity; ${DOUBLE}); ` +
      `events[0].amount: not a finite double (Infinity: out of double range; JSON.parse reads a number such as 1e400 as Infinity; ${DOUBLE})`,
  );
  // Wrong JS types keep the short form, and a missing field says so.
  assert.equal(describeIssues(issuesFor({ ...valid(), d: '1.5' })), 'd: expected number, got string');
  assert.equal(describeIssues(issuesFor({ ...valid(), i: 10n })), 'i: expected number, got bigint');
  assert.equal(describeIssues(issuesFor({ ...valid(), f: null })), 'f: expected number, got null');
});

test('every refused number gets a specific reason (the wording rules agree with the zod schemas)', () => {
  const edges = [
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    0.5,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 52 + 2,
    -(2 ** 52) - 2,
    2 ** 53,
    2 ** 60,
    3.4028234663852886e38 * (1 + 2 ** -52),
    3.5e38,
  ];
  for (const field of ['i', 'l', 'f', 'd', 'ts'])
    for (const value of edges) {
      const r = contract.safeParse({ ...valid(), [field]: value });
      if (r.success) continue;
      const [issue] = contractIssues(r.error);
      assert.match(
        issue!.message,
        /^(not a finite \w+|not an integer|\w+ out of range) \(/,
        `${field}=${value}: ${issue!.message}`,
      );
      assert.ok(issue!.message.includes(`(${value}`), `${field}=${value} names the value: ${issue!.message}`);
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
  assert.equal(
    issuesFor({ ...valid(), ts: '2024-05-01T12:00:00' })[0]!.message,
    'not an ISO-8601 date-time with an offset ("2024-05-01T12:00:00": a timestamp string reads like ' +
      '2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00; a number is epoch milliseconds, a whole number ' +
      'within ±2^52 (±4503599627370496))',
  );
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
