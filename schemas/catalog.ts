import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlywheelError } from '../services/platform/errors.ts';

/**
 * Which Avro contract each topic carries. Values are registered in the schema registry under the
 * subject `<topic>-value`; this table is the single place that says which `.avsc` that is.
 *
 * Order matters: the first matching pattern wins, so `*.dlq` comes first (a dead-letter topic of
 * a project's source carries dead letters, not its events). `*` matches one or more characters, dots included.
 */
export interface SchemaEntry {
  /** Topic name or glob (`*` = one or more characters). */
  readonly pattern: string;
  /** Path of the `.avsc` file, relative to the `schemas/` folder. */
  readonly file: string;
}

export const SCHEMA_CATALOG: readonly SchemaEntry[] = Object.freeze([
  { pattern: '*.dlq', file: 'platform/dead-letter.avsc' },
  { pattern: 'ml.drift', file: 'platform/ml-drift.avsc' },
  { pattern: 'ml.retrain', file: 'platform/ml-retrain.avsc' },
  { pattern: 'ml.models', file: 'platform/ml-models.avsc' },
  { pattern: 'predictions.*', file: 'platform/prediction.avsc' },
]);

export const SCHEMAS_DIR = dirname(fileURLToPath(import.meta.url));

const matchers = SCHEMA_CATALOG.map((entry) => ({ entry, re: globToRegExp(entry.pattern) }));
const cache = new Map<string, object>();

/** The catalogue entry for a topic, or undefined when no contract is declared for it. */
export function schemaEntryForTopic(topic: string): SchemaEntry | undefined {
  return matchers.find(({ re }) => re.test(topic))?.entry;
}

/** Absolute path of the `.avsc` a topic's values use; throws FW_NOT_FOUND for an unknown topic. */
export function schemaFileForTopic(topic: string): string {
  const entry = schemaEntryForTopic(topic);
  if (!entry) {
    throw new FlywheelError(
      'FW_NOT_FOUND',
      `No Avro contract is declared for topic "${topic}" in schemas/catalog.ts`,
      {
        details: { topic },
      },
    );
  }
  return join(SCHEMAS_DIR, entry.file);
}

/** The parsed Avro schema (plain JSON) of a topic's values. Files are read once and cached. */
export function loadSchemaForTopic(topic: string): object {
  return loadSchemaFile(schemaFileForTopic(topic));
}

/** Parses one `.avsc` file (absolute path, or relative to `schemas/`). Read once; callers get a copy. */
export function loadSchemaFile(file: string): object {
  const path = file.startsWith('/') ? file : join(SCHEMAS_DIR, file);
  let schema = cache.get(path);
  if (!schema) {
    schema = JSON.parse(readFileSync(path, 'utf8')) as object;
    cache.set(path, schema);
  }
  return structuredClone(schema);
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.+');
  return new RegExp(`^${body}$`);
}
