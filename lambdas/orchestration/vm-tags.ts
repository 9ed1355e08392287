/**
 * The tags a launch applies to a VM (lifecycle.md §5): the system's `instance_tags` (`k=v,…`) plus,
 * when configured and not already set, VM_TAG_USERNAME → the first owner's username, VM_TAG_INF_ID →
 * the infrastructure id, VM_TAG_IM_URL → the REST base URL (the use case stores it as
 * `extra.imUrl`), VM_TAG_IM → `es.upv.grycap.im`.
 */
import type { Config } from '#core/config';
import type { InfraRecord } from '#core/types';
import type { System } from '#radl/index';

/** Value of the VM_TAG_IM tag (IM's code; its docs say es.grycap.upv.im). */
export const IM_TAG_VALUE = 'es.upv.grycap.im';

/** Parses `k=v,k2=v2` (entries without `=` are ignored; the value may contain `=`). */
export function parseInstanceTags(text: string | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const entry of (text ?? '').split(',')) {
    const i = entry.indexOf('=');
    if (i <= 0) continue;
    const k = entry.slice(0, i).trim();
    if (k) tags[k] = entry.slice(i + 1).trim();
  }
  return tags;
}

/** The tag map for a VM of `system` in `inf`. */
export function vmTags(config: Config, inf: Pick<InfraRecord, 'id' | 'owners' | 'extra'>, system: System): Record<string, string> {
  const tags = parseInstanceTags(system.getString('instance_tags'));
  const add = (name: string | undefined, value: string | undefined) => {
    if (name && value !== undefined && value !== '' && !(name in tags)) tags[name] = value;
  };
  add(config.VM_TAG_USERNAME, inf.owners[0]?.username);
  add(config.VM_TAG_INF_ID, inf.id);
  const imUrl = inf.extra?.imUrl;
  add(config.VM_TAG_IM_URL, typeof imUrl === 'string' ? imUrl : undefined);
  add(config.VM_TAG_IM, IM_TAG_VALUE);
  return tags;
}
