/**
 * The cloud-init user data of a server (openstack.md §3.6): IM creates no Nova key pair; the user and its
 * public key go in a `#cloud-config` document (keys sorted, block style), merged with a `cloud_init`
 * configure of the system when it is YAML (any other recipe, e.g. a shell script, is sent as it is).
 */
import yaml from 'js-yaml';
import type { Radl, System } from '#radl/index';
import { cloudInitRecipes } from '#connectors/openstack/shared';

const MERGE_HOW = 'list(append)+dict(recurse_array,no_replace)+str()';

/** The public port mapped to the VM's port 22 on a public network (≠ 22 → sshd must listen there). */
export function sshPortOf(radl: Radl, system: System): number {
  for (const id of system.getNetworkIds()) {
    const net = radl.getNetworkById(id);
    if (!net?.isPublic()) continue;
    const rule = (net.getOutPorts() ?? []).find((o) => !o.isRange && o.protocol === 'tcp' && o.localPort === 22 && o.remotePort !== 22);
    if (rule) return rule.remotePort;
  }
  return 22;
}

export function buildUserData(radl: Radl, system: System, username: string, publicKey: string | undefined): string {
  const recipe = cloudInitRecipes(radl, system.name)[0];
  let doc: Record<string, unknown> = {};
  if (recipe !== undefined) {
    let parsed: unknown;
    try {
      parsed = yaml.load(recipe);
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return recipe.trim();
    doc = { ...(parsed as Record<string, unknown>) };
  }
  const port = sshPortOf(radl, system);
  if (port !== 22) {
    const runcmd = Array.isArray(doc.runcmd) ? [...(doc.runcmd as unknown[])] : [];
    runcmd.push(`sed -i '/^#*Port 22/c\\Port ${port}' /etc/ssh/sshd_config`, 'service sshd restart');
    doc.runcmd = runcmd;
  }
  const users = Array.isArray(doc.users) ? [...(doc.users as unknown[])] : [];
  users.push({
    name: username,
    sudo: 'ALL=(ALL) NOPASSWD:ALL',
    'lock-passwd': true,
    'ssh-import-id': username,
    homedir: `/opt/${username}`,
    ...(publicKey ? { 'ssh-authorized-keys': [publicKey.trim()] } : {}),
  });
  doc.users = users;
  if (doc.merge_how === undefined) doc.merge_how = MERGE_HOW;
  return `#cloud-config\n${yaml.dump(doc, { sortKeys: true, lineWidth: 512 })}`;
}
