/**
 * Type-level Avro → TypeScript, so a schema written as a `const` literal gives `z.infer`-able types
 * (the SDK's typed `send`). Runtime derivation lives in avro-to-zod.ts; the two read the same rules:
 * fields with a default are optional on input, timestamp-millis accepts an ISO-8601 string on input.
 */
interface Primitives {
  null: null;
  boolean: boolean;
  int: number;
  long: number;
  float: number;
  double: number;
  string: string;
}

type Field = { readonly name: string; readonly type: unknown; readonly default?: unknown };
type Fields = readonly Field[];
type Timestamp = { readonly type: 'long'; readonly logicalType: 'timestamp-millis' };
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The value a schema parses to (what Avro encodes). */
export type AvroOutput<S> = S extends keyof Primitives
  ? Primitives[S]
  : S extends readonly ['null', infer T]
    ? AvroOutput<T> | null
    : S extends readonly [infer T, 'null']
      ? AvroOutput<T> | null
      : S extends { readonly type: 'record'; readonly fields: infer F extends Fields }
        ? Simplify<{ -readonly [K in F[number] as K['name']]: AvroOutput<K['type']> }>
        : S extends { readonly type: 'enum'; readonly symbols: readonly (infer E)[] }
          ? E
          : S extends { readonly type: 'array'; readonly items: infer I }
            ? AvroOutput<I>[]
            : S extends { readonly type: 'map'; readonly values: infer V }
              ? Record<string, AvroOutput<V>>
              : S extends { readonly type: infer P extends keyof Primitives }
                ? Primitives[P]
                : unknown;

/** What a caller may send: defaulted fields optional, timestamps as epoch ms or ISO-8601 strings. */
export type AvroInput<S> = S extends Timestamp
  ? number | string
  : S extends keyof Primitives
    ? Primitives[S]
    : S extends readonly ['null', infer T]
      ? AvroInput<T> | null
      : S extends readonly [infer T, 'null']
        ? AvroInput<T> | null
        : S extends { readonly type: 'record'; readonly fields: infer F extends Fields }
          ? Simplify<
              {
                -readonly [K in F[number] as K extends { default: unknown } ? never : K['name']]: AvroInput<
                  K['type']
                >;
              } & {
                -readonly [K in F[number] as K extends { default: unknown } ? K['name'] : never]?: AvroInput<
                  K['type']
                >;
              }
            >
          : S extends { readonly type: 'enum'; readonly symbols: readonly (infer E)[] }
            ? E
            : S extends { readonly type: 'array'; readonly items: infer I }
              ? AvroInput<I>[]
              : S extends { readonly type: 'map'; readonly values: infer V }
                ? Record<string, AvroInput<V>>
                : S extends { readonly type: infer P extends keyof Primitives }
                  ? Primitives[P]
                  : unknown;
