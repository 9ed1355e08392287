/**
 * Provider-neutral parsing of the RADL `instance_tags` feature (lifecycle.md §5): `k=v,k2=v2`.
 */

/** `k=v,k2=v2` → map (entries without `=` are skipped; a value may contain `=`). */
export function parseInstanceTags(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!value) return out;
  for (const part of value.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (k) out[k] = part.slice(i + 1).trim();
  }
  return out;
}
