import { z } from 'zod';
import type { AvroInput, AvroOutput } from './avro-types.ts';

/**
 * The JSON contract of an Avro record, derived from the schema itself so the two cannot drift: anything
 * the zod schema accepts, avsc can encode (test/unit/contracts checks it on generated samples). Pure.
 *
 * Mapping: int → 32-bit integer; long → integer within ±2^52 (see LONG_LIMIT);
 * float → finite number within float32 range; double → finite number; enum → its symbols; array, map,
 * nested and named records; ["null", T] → nullable T. A `timestamp-millis` long also accepts an ISO-8601
 * date-time string with an offset (`2024-05-01T12:00:00Z`) and converts it to epoch milliseconds.
 * Fields with an Avro default are optional and filled with it; unknown fields are rejected.
 * bytes, fixed and unions other than ["null", T] have no unambiguous JSON form and are refused up front.
 *
 * Refusals name the problem, the value and the limit: `not a finite double (Infinity: out of double range;
 * …; a double is a finite number within ±1.7976931348623157e+308)`, `int out of range (2147483648: an int
 * is a whole number in the 32-bit range -2147483648 to 2147483647)`; a value of the wrong JS type reads
 * `expected number, got string`. contractIssues puts the field path in front.
 */
export type AvroContract<S> = z.ZodType<AvroOutput<S>, AvroInput<S>>;

const FLOAT32_MAX = 3.4028234663852886e38;
/**
 * Longs are JSON numbers (doubles), and avsc 5 writes a negative long below -2^52 with one bit lost
 * (its zig-zag step leaves the exact range): ±2^52 is the range that round-trips exactly.
 */
const LONG_LIMIT = 2 ** 52;
const INT_MIN = -(2 ** 31);
const INT_MAX = 2 ** 31 - 1;

/**
 * What a numeric Avro type accepts, for refusals: `limit` completes "an int is …". The bounds only word
 * the message; the zod schemas below decide what is accepted (a unit test checks the two agree).
 */
interface NumberRule {
  readonly name: string;
  readonly integer: boolean;
  readonly min: number;
  readonly max: number;
  readonly limit: string;
}

const LONG_RANGE = `within ±2^52 (±${LONG_LIMIT})`;
const INT_RULE: NumberRule = {
  name: 'int',
  integer: true,
  min: INT_MIN,
  max: INT_MAX,
  limit: `a whole number in the 32-bit range ${INT_MIN} to ${INT_MAX}`,
};
const LONG_RULE: NumberRule = {
  name: 'long',
  integer: true,
  min: -LONG_LIMIT,
  max: LONG_LIMIT,
  limit: `a whole number ${LONG_RANGE}`,
};
const FLOAT_RULE: NumberRule = {
  name: 'float',
  integer: false,
  min: -FLOAT32_MAX,
  max: FLOAT32_MAX,
  limit: `a finite number within the float32 range ±${FLOAT32_MAX}`,
};
const DOUBLE_RULE: NumberRule = {
  name: 'double',
  integer: false,
  min: -Number.MAX_VALUE,
  max: Number.MAX_VALUE,
  limit: `a finite number within ±${Number.MAX_VALUE}`,
};
const TIMESTAMP_RULE: NumberRule = {
  name: 'timestamp',
  integer: true,
  min: -LONG_LIMIT,
  max: LONG_LIMIT,
  limit: `epoch milliseconds, a whole number ${LONG_RANGE}`,
};

function long(error: (issue: { input?: unknown }) => string): z.ZodType<number> {
  return z.int({ error }).min(-LONG_LIMIT, { error }).max(LONG_LIMIT, { error });
}

export function avroToZod<const S>(schema: S): AvroContract<S> {
  return build(schema, new Map(), undefined) as unknown as AvroContract<S>;
}

type Named = Map<string, z.ZodType>;
type Spec = Record<string, unknown>;

function build(type: unknown, named: Named, namespace: string | undefined): z.ZodType {
  if (typeof type === 'string') return primitive(type, named, namespace);
  if (Array.isArray(type)) return union(type, named, namespace);
  if (!type || typeof type !== 'object') throw unsupported(type);
  const spec = type as Spec;
  if (spec.logicalType === 'timestamp-millis' && spec.type === 'long') return timestampMillis();
  switch (spec.type) {
    case 'record':
    case 'error':
      return record(spec, named, namespace);
    case 'enum': {
      const symbols = spec.symbols as [string, ...string[]];
      const what = `one of ${symbols.join(', ')}`;
      const error = (issue: { input?: unknown }) =>
        typeof issue.input === 'string'
          ? `expected ${what}, got ${quote(issue.input)}`
          : expected(what)(issue);
      const schema = z.enum(symbols, { error });
      return define(spec, schema, named, namespace);
    }
    case 'array':
      return z.array(build(spec.items, named, namespace), { error: expected('array') });
    case 'map':
      return z.record(z.string(), build(spec.values, named, namespace), { error: expected('object (map)') });
    default:
      // `{ "type": "long", "logicalType": "..." }` and friends: the underlying type decides.
      return build(spec.type, named, namespace);
  }
}

function primitive(name: string, named: Named, namespace: string | undefined): z.ZodType {
  const got = (what: string) => expected(what);
  switch (name) {
    case 'null':
      return z.null({ error: got('null') });
    case 'boolean':
      return z.boolean({ error: got('boolean') });
    case 'string':
      return z.string({ error: got('string') });
    case 'int':
      return z.int32({ error: numeric(INT_RULE) });
    case 'long':
      return long(numeric(LONG_RULE));
    case 'float': {
      const error = numeric(FLOAT_RULE);
      return z.number({ error }).min(-FLOAT32_MAX, { error }).max(FLOAT32_MAX, { error });
    }
    case 'double':
      return z.number({ error: numeric(DOUBLE_RULE) });
    case 'bytes':
      throw unsupported(name);
    default: {
      const ref = named.get(name) ?? (namespace ? named.get(`${namespace}.${name}`) : undefined);
      if (!ref) throw new Error(`Avro type "${name}" is not defined before its use`);
      return ref;
    }
  }
}

function timestampMillis(): z.ZodType {
  const wrongType = expected('timestamp: epoch milliseconds (integer) or ISO-8601 date-time with offset');
  const error = (issue: { input?: unknown }) => {
    const input = issue.input;
    if (typeof input === 'number') return numberProblem(input, TIMESTAMP_RULE);
    if (typeof input === 'string')
      return `not an ISO-8601 date-time with an offset (${quote(input)}: a timestamp string reads like 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00; a number is ${TIMESTAMP_RULE.limit})`;
    return wrongType(issue);
  };
  return z
    .union([long(error), z.iso.datetime({ offset: true, error })], { error })
    .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));
}

function union(branches: unknown[], named: Named, namespace: string | undefined): z.ZodType {
  const others = branches.filter((b) => b !== 'null');
  if (others.length === 1 && branches.length <= 2) {
    const inner = build(others[0], named, namespace);
    return branches.length === 2 ? inner.nullable() : inner;
  }
  throw unsupported(branches);
}

function record(spec: Spec, named: Named, outer: string | undefined): z.ZodType {
  const namespace = (spec.namespace as string | undefined) ?? namespaceOf(spec.name as string) ?? outer;
  // Registered lazily before the fields are built so a record may refer to itself (linked lists, trees).
  let built: z.ZodType | undefined;
  define(
    spec,
    z.lazy(() => built!),
    named,
    outer,
  );
  const shape: Record<string, z.ZodType> = {};
  for (const field of spec.fields as Spec[]) {
    let schema = build(field.type, named, namespace);
    if (typeof field.doc === 'string') schema = schema.describe(field.doc);
    if (field.default !== undefined) {
      const fallback = field.default;
      schema = schema.default(() => structuredClone(fallback));
    }
    shape[field.name as string] = schema;
  }
  built = z.strictObject(shape, {
    error: (issue) => (issue.code === 'invalid_type' ? expected('object')(issue) : undefined),
  });
  if (typeof spec.doc === 'string') built = built.describe(spec.doc);
  return built;
}

/** For numeric types: a number says what is wrong with it (value and limit); anything else, its type. */
function numeric(rule: NumberRule) {
  return (issue: { input?: unknown }) =>
    typeof issue.input === 'number' ? numberProblem(issue.input, rule) : expected('number')(issue);
}

/**
 * Why `value` is not a valid `rule.name`: not finite (NaN, or ±Infinity, which is what JSON.parse makes
 * of a number beyond the double range such as 1e400), not whole, or out of range. Each names the value
 * and the limit: `int out of range (2147483648: an int is a whole number in the 32-bit range …)`.
 */
function numberProblem(value: number, rule: NumberRule): string {
  const a = /^[aeiou]/.test(rule.name) ? 'an' : 'a';
  const limit = `${a} ${rule.name} is ${rule.limit}`;
  if (Number.isNaN(value)) return `not a finite ${rule.name} (NaN: not a number; ${limit})`;
  if (!Number.isFinite(value))
    return `not a finite ${rule.name} (${value}: out of double range; JSON.parse reads a number such as ${value < 0 ? '-' : ''}1e400 as ${value}; ${limit})`;
  if (rule.integer && !Number.isInteger(value)) return `not an integer (${value}: ${limit})`;
  if (value < rule.min || value > rule.max) return `${rule.name} out of range (${value}: ${limit})`;
  // Unreachable while the rules match the zod schemas; still a message with the value and the limit.
  return `not a valid ${rule.name} (${value}: ${limit})`;
}

/** The error map sees the input (final issues do not carry it): a missing field says so plainly. */
function expected(what: string) {
  return (issue: { input?: unknown }) =>
    issue.input === undefined ? 'required field is missing' : `expected ${what}, got ${kind(issue.input)}`;
}

function define(spec: Spec, schema: z.ZodType, named: Named, outer: string | undefined): z.ZodType {
  const name = spec.name as string;
  const namespace = (spec.namespace as string | undefined) ?? outer;
  named.set(name, schema);
  if (namespace && !name.includes('.')) named.set(`${namespace}.${name}`, schema);
  return schema;
}

function namespaceOf(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : undefined;
}

/** A string value for a message: JSON-quoted, cut to 60 characters so a refusal stays one short line. */
function quote(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function unsupported(type: unknown): Error {
  return new Error(
    `Avro type ${JSON.stringify(type)} has no JSON contract (supported: primitives except bytes, enum, ` +
      'array, map, record, ["null", T], timestamp-millis)',
  );
}
