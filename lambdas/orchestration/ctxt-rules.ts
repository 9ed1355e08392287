/**
 * When contextualization applies to a VM (lifecycle.md §3), read from the infrastructure RADL.
 *
 * Disabled for the whole infrastructure: `contextualize ()` (no items, no options), or items of
 * which none uses Ansible. Disabled for one VM: the above, or an empty `configure <system> ()`.
 */
import type { Radl } from '#radl/index';

const isAnsible = (tool: string | undefined): boolean => tool === undefined || tool.toLowerCase() === 'ansible';

/** `contextualize ()`, or contextualize items none of which uses Ansible. */
export function isInfraCtxtDisabled(radl: Radl): boolean {
  const c = radl.contextualize;
  if (!c) return false;
  if (c.isEmpty()) return true;
  return c.items.length > 0 && !c.items.some((i) => isAnsible(i.ctxtTool));
}

/** The infrastructure rule, or the system has an empty `configure <system> ()`. */
export function isVmCtxtDisabled(radl: Radl, systemName: string): boolean {
  if (isInfraCtxtDisabled(radl)) return true;
  const conf = radl.getConfigureByName(systemName);
  return conf !== undefined && !conf.reference && conf.recipes === null;
}

/**
 * Whether any Ansible recipe applies to the system: the configures its contextualize items name,
 * or, without items, the configure named like the system.
 */
export function hasConfigureRecipes(radl: Radl, systemName: string): boolean {
  const c = radl.contextualize;
  const names =
    c && c.items.length > 0
      ? c.getItemsBySystem(systemName).filter((i) => isAnsible(i.ctxtTool)).map((i) => i.configureId)
      : [systemName];
  return names.some((n) => {
    const recipes = radl.getConfigureByName(n)?.recipes;
    return typeof recipes === 'string' && recipes.trim() !== '';
  });
}
