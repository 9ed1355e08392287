/**
 * CreateInfrastructure (lifecycle.md §2): BOOT_MODE 0, validate auth, parse + check the RADL,
 * create the record (owners = the caller's IM identities, hashed; cloud credentials sealed) —
 * with its VM records in the same write when the store can — then AddResource. Sync: if every
 * new VM failed, or the add failed, the infrastructure is destroyed and the error returned.
 * Async: the id is returned as soon as the launch started.
 *
 * Ids are random UUIDs (crypto.randomUUID, version 4) rather than IM's UUID v1: clients treat
 * them as opaque strings.
 */
import { randomUUID } from 'node:crypto';
import type { AuthItem, InfraRecord, Services } from '#core/types';
import { authenticate, ownerKey, ownerRecords, type Caller } from '#core/auth';
import { sealCloudAuth } from '#core/cloud-auth';
import { mutateInfrastructure, releaseAddingOp } from '#core/mutate';
import { addVmsError, launchPlanned, NO_DEPLOY_MSG, planAdd, plannedVmRecords } from '#core/usecases/add-resource';
import { addContMsg, deletedPatch, liveVms, parseCheckedRadl, requireWriteMode, waitSync, type RadlInput } from '#core/usecases/common';
import { createRadl, loadInput } from '#core/usecases/tosca';
import { checkRadl } from '#radl/index';
import { serializeTosca } from '#tosca/index';

export interface CreateOptions {
  /** Return as soon as the launch started (default false). */
  async?: boolean;
}

async function newInfraRecord(services: Services, caller: Caller): Promise<InfraRecord> {
  const now = services.now();
  const owners = await ownerRecords(caller);
  return {
    id: randomUUID(),
    version: 1,
    owners,
    ownerKeys: [...new Set(owners.map((o) => ownerKey(o.username)))],
    status: 'active',
    createdAt: now,
    updatedAt: now,
    radl: '[]',
    vmCounter: 0,
    addingOps: [],
    privateNetworks: {},
    snapshots: [],
    cloudAuth: sealCloudAuth(services, caller.items),
  };
}

/** The optional creation of a store that writes the record and its first VMs together. */
/** Logs and discards a failed creation (never throws). */
async function discardFailed(services: Services, infId: string, err: unknown): Promise<void> {
  services.logger.warn('Error creating the infrastructure: destroying it', { infId, err });
  await discard(services, infId).catch((e: unknown) => services.logger.error('Could not discard a failed infrastructure', { infId, err: e }));
}

/** Destroys what a failed create left (force) and marks the infrastructure deleted. */
async function discard(services: Services, infId: string): Promise<void> {
  const vms = await liveVms(services, infId);
  if (vms.length > 0) {
    await mutateInfrastructure(services.store, infId, () => ({ status: 'deleting' }));
    const execution = await services.orchestrator.start('destroy', {
      infId,
      vmIds: vms.map((vm) => vm.vmId).reverse(),
      force: true,
    });
    await waitSync(services, execution);
  }
  await mutateInfrastructure(services.store, infId, (cur) =>
    cur.status === 'deleted' ? undefined : deletedPatch(services),
  );
}

export async function createInfrastructure(services: Services, auth: AuthItem[], input: RadlInput, opts: CreateOptions = {}): Promise<string> {
  requireWriteMode(services);
  const caller = await authenticate(services, auth);
  const tosca = input.format === 'tosca' ? await loadInput(services, input.text, caller) : undefined;
  const inf = await newInfraRecord(services, caller);
  const radl = tosca ? createRadl(services, tosca, inf.id) : parseCheckedRadl(input);
  if (tosca) {
    checkRadl(radl);
    // The template is stored with the infrastructure (GET …/tosca, outputs, TOSCA add-resources).
    inf.tosca = serializeTosca(tosca);
  }
  // Planned before the record exists: the record is created with the merged RADL, its ids
  // reserved (0..n-1) and the add counted, in one write.
  const add = planAdd(services, caller, inf, radl);
  const n = add.plan.vms.length;
  inf.radl = add.mergedJson;
  inf.privateNetworks = add.plan.privateNetworks;
  inf.vmCounter = n;
  // As IM: an infrastructure created without any deploy reads `failed` (its flag false), not `pending` for ever.
  if (add.noDeploy) inf.configured = false;
  const op = randomUUID();
  inf.addingOps = n > 0 ? [op] : [];
  const ids = Array.from({ length: n }, (_, i) => i);
  const { store } = services;
  // The record and its VM records written together (the id is a new random UUID).
  const written = plannedVmRecords(services, inf.id, add, ids);
  try {
    await store.createInfrastructure(inf, written);
  } catch (err) {
    // With more VMs than one transaction holds, the record and its first VMs go first: then the
    // infrastructure may exist without all its VMs, and is discarded like a failed launch.
    if (!(await store.getInfrastructure(inf.id).catch(() => undefined))) throw err;
    await releaseAddingOp(store, inf.id, op).catch(() => undefined);
    await discardFailed(services, inf.id, err);
    throw err;
  }
  services.logger.info('Infrastructure created', { infId: inf.id, vms: n });
  if (n === 0) {
    if (add.noDeploy) await addContMsg(services, inf.id, NO_DEPLOY_MSG);
    return inf.id;
  }
  try {
    const outcome = await launchPlanned(services, inf.id, add, ids, { op, context: true, wait: !opts.async, written });
    if (outcome.allFailed) throw addVmsError(outcome.messages);
  } catch (err) {
    await discardFailed(services, inf.id, err);
    throw err;
  }
  return inf.id;
}
