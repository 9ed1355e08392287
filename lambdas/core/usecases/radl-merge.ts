/**
 * AddResource step 1 (lifecycle.md §2): resolve the references of the new RADL against the stored
 * one and merge it in: networks and ansible hosts ignore redefinitions, systems and configures
 * replace, contextualize is merged, the description replaced, deploys replaced by the new ones.
 */
import { errors } from '#core/errors';
import type { Radl } from '#radl/index';

function unknownReference(kind: string, id: string) {
  return errors.badRequest(`Unknown reference in RADL to ${kind} '${id}'`);
}

/** Checks that every reference (`system s`, `network n`, `configure c` without body) exists in `stored`. */
export function resolveReferences(stored: Radl, incoming: Radl): void {
  for (const s of incoming.systems) if (s.reference && !stored.getSystemByName(s.name)) throw unknownReference('system', s.name);
  for (const n of incoming.networks) if (n.reference && !stored.getNetworkById(n.id)) throw unknownReference('network', n.id);
  for (const c of incoming.configures) if (c.reference && !stored.getConfigureByName(c.name)) throw unknownReference('configure', c.name);
}

/** The merged infrastructure RADL (a new object; neither input is modified). */
export function mergeRadl(stored: Radl, incoming: Radl): Radl {
  resolveReferences(stored, incoming);
  const merged = stored.clone();
  for (const a of incoming.ansibleHosts) merged.add(a.clone(), 'ignore');
  for (const n of incoming.networks) if (!n.reference) merged.add(n.clone(), 'ignore');
  for (const s of incoming.systems) if (!s.reference) merged.add(s.clone(), 'replace');
  for (const c of incoming.configures) if (!c.reference) merged.add(c.clone(), 'replace');
  if (incoming.contextualize) merged.add(incoming.contextualize.clone());
  if (incoming.description) merged.add(incoming.description.clone(), 'replace');
  merged.deploys = incoming.deploys.map((d) => d.clone());
  return merged;
}
