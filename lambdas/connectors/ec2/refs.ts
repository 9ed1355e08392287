/**
 * EC2 names in IM form (no SDK): image URLs `aws://<region>/<ami-…|snap-…>` and provider ids
 * `<region>;<instance-id>`.
 */
import type { System } from '#radl/index';

/** The region used where neither an image URL nor the auth item names one. */
export const DEFAULT_REGION = 'us-east-1';

const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** `aws://<region>/<ami-…|snap-…>`. */
export interface AwsImageRef {
  region: string;
  /** `ami-…` or `snap-…`. */
  id: string;
  kind: 'ami' | 'snap';
}

/** Parses an IM EC2 image URL; undefined for any other scheme or shape. */
export function parseImageUrl(url: string | undefined): AwsImageRef | undefined {
  if (!url) return undefined;
  const m = /^aws:\/\/([^/]+)\/((ami|snap)-[0-9a-zA-Z]+)\/?$/.exec(url.trim());
  if (!m || !REGION_RE.test(m[1])) return undefined;
  return { region: m[1], id: m[2], kind: m[3] as 'ami' | 'snap' };
}

/** The IM image URL of an AMI or snapshot. */
export function imageUrl(region: string, id: string): string {
  return `aws://${region}/${id}`;
}

/** `<region>;<instance-id>` → parts; undefined when malformed or empty. */
export function parseProviderId(providerId: string | undefined): { region: string; instanceId: string } | undefined {
  if (!providerId) return undefined;
  const i = providerId.indexOf(';');
  if (i <= 0) return undefined;
  const region = providerId.slice(0, i);
  const instanceId = providerId.slice(i + 1);
  return instanceId.startsWith('i-') ? { region, instanceId } : undefined;
}

/** The first `aws://` image URL of the system's `disk.0.image.url` (a string or a list). */
export function systemImage(system: System): AwsImageRef | undefined {
  for (const u of system.getList('disk.0.image.url') ?? []) {
    const ref = parseImageUrl(u);
    if (ref) return ref;
  }
  return undefined;
}
