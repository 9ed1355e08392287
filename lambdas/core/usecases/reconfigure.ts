/**
 * Reconfigure: takes from the (optional) RADL only the `configure` sections (replaced by name),
 * `contextualize` (merged), new credentials (`disk.0.os.credentials.new.*`) and
 * `disk.0.applications` of systems already defined, then re-runs the contextualization
 * (`contextualize` workflow; `vmList` limits the VMs that re-run the user configure steps).
 */
import { errors } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { checkRadl, radlToJsonString, type System } from '#radl/index';
import { mutateInfrastructure, mutateVm } from '#core/mutate';
import { callerAndInfra, infraRadl, liveVms, parseRadlInput, refreshedCloudAuth, requireWriteMode, vmRadl, type RadlInput } from '#core/usecases/common';
import { addResourcesRadl } from '#core/usecases/tosca';

const NEW_CREDS = 'disk.0.os.credentials.new.';
const APPS = 'disk.0.applications';

/** `1,2,3` → ids; anything else → 400 `Incorrect vm_list format.` */
export function parseVmList(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw errors.badRequest('Incorrect vm_list format.');
  return parts.map(Number);
}

/** Copies the reconfigurable features of `from` into `to`; true when something changed. */
function copyReconfigurable(from: System, to: System): boolean {
  let changed = false;
  for (const prop of from.props()) {
    if (prop.startsWith(NEW_CREDS)) {
      const v = from.getValue(prop);
      if (v !== undefined) {
        to.setValue(prop, v);
        changed = true;
      }
    } else if (prop === APPS) {
      for (const app of from.getContains(APPS)) to.addContains(APPS, app.clone(), 'other');
      changed = true;
    }
  }
  return changed;
}

export async function reconfigure(
  services: Services,
  auth: AuthItem[],
  infId: string,
  input?: RadlInput,
  vmList?: number[],
): Promise<string> {
  requireWriteMode(services);
  const { caller, inf } = await callerAndInfra(services, auth, infId);
  const cloudAuth = refreshedCloudAuth(services, inf, caller);
  const changedSystems = new Map<string, System>();
  if (input && input.text.trim() !== '') {
    // TOSCA: the stored template merged with the posted one (and stored), translated against the current VMs.
    const tosca = input.format === 'tosca' ? await addResourcesRadl(services, inf, await liveVms(services, infId), input.text, caller) : undefined;
    const radl = tosca ? tosca.radl : parseRadlInput(input);
    await mutateInfrastructure(services.store, infId, (cur) => {
      const stored = infraRadl(cur);
      for (const c of radl.configures) if (!c.reference) stored.add(c.clone(), 'replace');
      if (radl.contextualize) stored.add(radl.contextualize.clone());
      changedSystems.clear();
      for (const s of radl.systems) {
        const target = stored.getSystemByName(s.name);
        if (target && !s.reference && copyReconfigurable(s, target)) changedSystems.set(s.name, s);
      }
      checkRadl(stored);
      return { radl: radlToJsonString(stored, 0), ...(cloudAuth ? { cloudAuth } : {}), ...(tosca ? { tosca: tosca.stored } : {}) };
    });
  } else if (cloudAuth) {
    await mutateInfrastructure(services.store, infId, () => ({ cloudAuth }));
  }
  const vms = await liveVms(services, infId);
  if (changedSystems.size > 0) {
    await Promise.all(
      vms
        .filter((vm) => changedSystems.has(vm.systemName))
        .map((vm) =>
          mutateVm(services.store, infId, vm.vmId, (cur) => {
            const r = vmRadl(cur);
            const sys = r.systems[0];
            if (!sys || !copyReconfigurable(changedSystems.get(vm.systemName) as System, sys)) return undefined;
            return { info: radlToJsonString(r, 0) };
          }),
        ),
    );
  }
  const live = new Set(vms.map((vm) => vm.vmId));
  const vmIds = vmList ? vmList.filter((id) => live.has(id)) : [...live];
  if (live.size > 0) {
    // reconfigure: vmIds is the vm_list that re-runs the user configure steps (lambdas/runner).
    const execution = await services.orchestrator.start('contextualize', { infId, vmIds, reconfigure: true });
    services.logger.info('Reconfigure started', { infId, vmIds, execution });
  }
  return '';
}
