/**
 * EC2 tags (lifecycle.md §5): instance_tags + the VM_TAG_* map of the launch request + `IM-USER` +
 * `IM-INFRA-ID` + `Name`, within EC2's limits.
 */
import { randomUUID } from 'node:crypto';
import type { Tag } from '@aws-sdk/client-ec2';
import type { System } from '#radl/index';
import type { Config } from '#core/config';
import type { LaunchRequest } from '#core/types';
import { parseInstanceTags } from '#connectors/instance-tags';

/** Tag on every resource the connector creates; finalize(last) finds leftovers by it. */
export const INFRA_TAG = 'IM-INFRA-ID';
/**
 * Tag of an instance: `<infId>/<vmId>`, set by RunInstances itself. A launch finds by it the instance an
 * interrupted launch of the same VM created (and never recorded), and terminates it before launching.
 */
export const VM_TAG = 'IM-VM';

/** EC2 tag list from a map: drops reserved `aws:` keys and trims keys/values to EC2's limits (50 tags). */
export function toEc2Tags(tags: Record<string, string>): { Key: string; Value: string }[] {
  return Object.entries(tags)
    .filter(([k]) => k && !k.toLowerCase().startsWith('aws:'))
    .slice(0, 50)
    .map(([k, v]) => ({ Key: k.slice(0, 128), Value: String(v ?? '').slice(0, 256) }));
}

/** `Name` tag: instance_name | disk.0.image.name | system name, lower-cased, `_` → `-`, plus `-<suffix>`. */
export function nameTag(system: System, suffix: string): string {
  const base = system.getString('instance_name') ?? system.getString('disk.0.image.name') ?? system.name;
  return `${base.toLowerCase().replace(/_/g, '-')}-${suffix}`.slice(0, 256);
}

/** instance_tags + LaunchRequest.tags + Name + IM-USER + IM-INFRA-ID. */
export function instanceTags(config: Config, req: LaunchRequest, system: System): Tag[] {
  const tags: Record<string, string> = { ...req.tags, ...parseInstanceTags(system.getString('instance_tags')) };
  const userTag = config.VM_TAG_USERNAME;
  if (userTag && req.tags[userTag] && !tags['IM-USER']) tags['IM-USER'] = req.tags[userTag];
  tags[INFRA_TAG] ??= req.infId;
  tags[VM_TAG] = `${req.infId}/${req.vmId}`;
  tags.Name ??= nameTag(system, randomUUID());
  return toEc2Tags(tags);
}
