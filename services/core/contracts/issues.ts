import type { z } from 'zod';

/** One contract violation: where (`events[3].amount`) and what (`expected number, got string`). */
export interface ContractIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * Flattens zod issues to field paths: an unknown-keys issue becomes one issue per unknown field, and a
 * field reports only its first issue (`2^60` is both "not a safe integer" and "too large": say it once).
 */
export function contractIssues(error: z.ZodError, prefix: readonly PropertyKey[] = []): ContractIssue[] {
  const out: ContractIssue[] = [];
  const seen = new Set<string>();
  const push = (issue: ContractIssue) => {
    if (seen.has(issue.path)) return;
    seen.add(issue.path);
    out.push(issue);
  };
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        push({ path: formatPath([...path, key]), message: 'unknown field (not in the Avro schema)' });
    } else {
      push({ path: formatPath(path), message: issue.message });
    }
  }
  return out;
}

/** `['events', 3, 'amount']` → `events[3].amount`; keys that are not identifiers are quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part))
      out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}

/** `events[3].amount: expected number, got string` — one line per issue, for error messages. */
export function describeIssues(issues: readonly ContractIssue[]): string {
  return issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
}
