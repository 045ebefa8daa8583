/** `--name value` and `--name=value` flags of a benchmark, as positive integers with a default. */
export function intFlag(args: readonly string[], name: string, fallback: number): number {
  const flag = `--${name}`;
  let raw: string | undefined;
  for (const [i, a] of args.entries()) {
    if (a === flag) raw = args[i + 1];
    else if (a.startsWith(`${flag}=`)) raw = a.slice(flag.length + 1);
  }
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} needs a positive integer, got "${raw}"`);
  return value;
}
