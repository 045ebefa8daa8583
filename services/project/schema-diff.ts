/**
 * Why a record schema cannot read data written with the previous one (BACKWARD compatibility): the
 * registry only answers yes or no, and a user needs the field. Pure; covers what breaks records in
 * practice — a new field without a default, a field whose type changed, a removed enum symbol — and
 * falls back to a general sentence for anything else.
 */
interface Field {
  name: string;
  type: unknown;
  default?: unknown;
}

export function explainBackwardBreak(previous: object, next: object): string {
  const before = fieldsOf(previous);
  const after = fieldsOf(next);
  const reasons: string[] = [];
  for (const field of after) {
    const old = before.find((f) => f.name === field.name);
    if (!old) {
      if (!('default' in field)) reasons.push(`adds field "${field.name}" without a default`);
      continue;
    }
    if (canonical(old.type) !== canonical(field.type)) {
      const removed = removedSymbols(old.type, field.type);
      reasons.push(
        removed.length
          ? `removes enum symbol${removed.length > 1 ? 's' : ''} ${removed.join(', ')} from "${field.name}"`
          : `changes the type of "${field.name}" from ${canonical(old.type)} to ${canonical(field.type)}`,
      );
    }
  }
  return reasons.length ? reasons.join('; ') : "the registry refuses it under the subject's BACKWARD rule";
}

function fieldsOf(schema: object): Field[] {
  const fields = (schema as { fields?: unknown }).fields;
  return Array.isArray(fields) ? (fields as Field[]) : [];
}

function canonical(type: unknown): string {
  return JSON.stringify(type, (key, v: unknown) => (key === 'doc' ? undefined : v));
}

function removedSymbols(before: unknown, after: unknown): string[] {
  const symbols = (t: unknown) =>
    (t as { type?: string; symbols?: string[] })?.type === 'enum'
      ? ((t as { symbols: string[] }).symbols ?? [])
      : undefined;
  const a = symbols(before);
  const b = symbols(after);
  return a && b ? a.filter((s) => !b.includes(s)) : [];
}
