/**
 * Security groups (openstack.md §3.4, §6.2): one per RADL network of the VM, named `sg_name` or
 * `im-<inf>-<net>`, with IM's rules from the network's `outports`, and their removal with the last VM.
 * Only groups whose description says the IM created them are ever deleted.
 */
import type { Logger } from '#core/types';
import type { Network, Radl, System } from '#radl/index';
import type { OstSession } from '#connectors/openstack/session';
import { isNotFound } from '#connectors/openstack/errors';
import { KeyedLock, obj, objs, oldestFirst, str, type Obj } from '#connectors/openstack/util';

export const SG_DESCRIPTION = 'Security group created by the IM';

export const sgName = (infId: string, net: Network) => net.getString('sg_name') ?? `im-${infId}-${net.id}`;

export function sgDescription(radl: Radl): string {
  const name = radl.description?.getString('name');
  return name ? `${SG_DESCRIPTION} for Inf: ${name}` : SG_DESCRIPTION;
}

export interface SgRule {
  protocol: string;
  min: number | null;
  max: number | null;
  prefix: string | null;
  selfGroup: boolean;
}

/** IM's rules for a network's group (§3.4): tcp and udp within the group, the outports, SSH on public networks. */
export function sgRules(net: Network): SgRule[] {
  const rules: SgRule[] = [
    { protocol: 'tcp', min: null, max: null, prefix: null, selfGroup: true },
    { protocol: 'udp', min: null, max: null, prefix: null, selfGroup: true },
  ];
  const outports = net.getOutPorts() ?? [];
  for (const o of outports) {
    const prefix = o.remoteCidr || '0.0.0.0/0';
    if (o.protocol === 'icmp') rules.push({ protocol: 'icmp', min: null, max: null, prefix, selfGroup: false });
    else if (o.isRange) rules.push({ protocol: o.protocol, min: o.remotePort, max: o.localPort, prefix, selfGroup: false });
    else rules.push({ protocol: o.protocol, min: o.remotePort, max: o.remotePort, prefix, selfGroup: false });
  }
  const ssh = outports.some((o) => o.protocol === 'tcp' && o.remotePort === 22);
  if ((net.isPublic() || net.getString('proxy_host')) && !ssh) rules.push({ protocol: 'tcp', min: 22, max: 22, prefix: '0.0.0.0/0', selfGroup: false });
  return rules;
}

export interface SgContext {
  infId: string;
  radl: Radl;
  system: System;
  lock: KeyedLock;
  logger: Logger;
}

async function listGroups(s: OstSession): Promise<Obj[]> {
  return objs((await s.request('network', 'GET', '/v2.0/security-groups')).json.security_groups);
}

/**
 * The group names of the server (undefined: none at all, a network has `router`). Missing groups are created
 * with their rules and pushed to `created`; rule failures go to `messages` (IM's launch messages).
 */
export async function ensureSecurityGroups(s: OstSession, c: SgContext, created: { id: string; name: string }[], messages: string[]): Promise<string[] | undefined> {
  const nets: Network[] = [];
  for (const id of c.system.getNetworkIds()) {
    const n = c.radl.getNetworkById(id);
    if (n && !nets.includes(n)) nets.push(n);
  }
  if (nets.some((n) => n.hasFeature('router'))) return undefined;
  const names = [...new Set(nets.map((n) => sgName(c.infId, n)))];
  if (names.length === 0) return [];
  await c.lock.run(`${c.infId}|sg`, async () => {
    const groups = await listGroups(s);
    for (const net of nets) {
      const name = sgName(c.infId, net);
      if (groups.some((g) => str(g.name) === name)) continue;
      const r = await s.request('network', 'POST', '/v2.0/security-groups', { body: { security_group: { name, description: sgDescription(c.radl) } } });
      const id = str(obj(r.json.security_group).id) ?? '';
      // Another Lambda created one too: keep the oldest of that name.
      const same = (await listGroups(s)).filter((g) => str(g.name) === name).sort(oldestFirst);
      if (same.length > 1 && str(same[0].id) !== id) {
        await s.request('network', 'DELETE', `/v2.0/security-groups/${id}`).catch(() => undefined);
        groups.push(same[0]);
        continue;
      }
      created.push({ id, name });
      groups.push({ id, name });
      for (const rule of sgRules(net)) {
        const body = {
          security_group_rule: {
            direction: 'ingress',
            protocol: rule.protocol,
            port_range_min: rule.min,
            port_range_max: rule.max,
            remote_ip_prefix: rule.prefix,
            remote_group_id: rule.selfGroup ? id : null,
            security_group_id: id,
            ...(rule.prefix?.includes(':') ? { ethertype: 'IPv6' } : {}),
          },
        };
        try {
          await s.request('network', 'POST', '/v2.0/security-group-rules', { body });
        } catch (err) {
          if (!rule.selfGroup) messages.push(`Exception adding port range: ${rule.min}-${rule.max} to SG rules.\n`);
          c.logger.debug('OpenStack: security group rule not added', { group: name, error: err instanceof Error ? err.message : String(err) });
        }
      }
    }
  });
  return names;
}

export interface SgDeleteTiming {
  retryMs: number;
  budgetMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/**
 * Deletes the groups with these names (and every `im-<inf>-…` group when `infId` is given) that the IM created,
 * retrying while they are in use (409) within the budget. Returns the failure messages.
 */
export async function deleteSecurityGroups(s: OstSession, names: string[], infId: string | undefined, t: SgDeleteTiming): Promise<string[]> {
  const end = t.now() + t.budgetMs;
  let lastError = '';
  for (;;) {
    let groups: Obj[];
    try {
      groups = await listGroups(s);
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      if (t.now() + t.retryMs > end) return [`Error deleting the SG: ${lastError}`];
      await t.sleep(t.retryMs);
      continue;
    }
    const mine = groups.filter((g) => {
      const n = str(g.name) ?? '';
      const ours = (str(g.description) ?? '').startsWith(SG_DESCRIPTION);
      return ours && (names.includes(n) || (infId !== undefined && n.startsWith(`im-${infId}-`)));
    });
    if (mine.length === 0) return [];
    let busy = false;
    for (const g of mine) {
      try {
        await s.request('network', 'DELETE', `/v2.0/security-groups/${str(g.id)}`);
      } catch (err) {
        if (isNotFound(err)) continue;
        busy = true;
        lastError = err instanceof Error ? err.message : String(err);
      }
    }
    if (!busy) return [];
    if (t.now() + t.retryMs > end) return [`Error deleting the SG: ${lastError}`];
    await t.sleep(t.retryMs);
  }
}
