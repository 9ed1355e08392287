/**
 * EC2's concreteSystem, free of any SDK import so that the connector registry can answer it without loading
 * the EC2 client (the rest of the connector loads on its first asynchronous call).
 */
import type { System } from '#radl/index';
import { candidateInstanceTypes } from '#connectors/ec2/instance-types';
import { parseImageUrl } from '#connectors/ec2/refs';
import { instanceRequirements, noTypeFits } from '#connectors/ec2/requirements';

/** The SSH user the connector creates (with cloud-init) when the RADL names none. */
export const DEFAULT_USER = 'cloudadm';

/**
 * One candidate per `aws://` URL of `disk.0.image.url` ([] when none), with that URL, `provider.type = 'EC2'`
 * and the default username `cloudadm`. Throws BAD_REQUEST when no instance type of the table (of either
 * architecture — the AMI decides at launch) satisfies the requirements. Does not modify `system`.
 */
export function ec2ConcreteSystem(system: System): System[] {
  const out: System[] = [];
  for (const url of system.getList('disk.0.image.url') ?? []) {
    if (!parseImageUrl(url)) continue;
    const s = system.clone();
    s.setValue('disk.0.image.url', url);
    s.setValue('provider.type', 'EC2');
    if (!s.getString('disk.0.os.credentials.username')) s.setValue('disk.0.os.credentials.username', DEFAULT_USER);
    const req = instanceRequirements(s);
    delete req.arch;
    if (candidateInstanceTypes(req).length === 0) throw noTypeFits(system.name, req);
    out.push(s);
  }
  return out;
}
