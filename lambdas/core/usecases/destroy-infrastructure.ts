/**
 * DestroyInfrastructure (lifecycle.md §2): 409 while resources are being added (unless `force`); marks the
 * infrastructure `deleting`, then the `destroy` workflow finalizes the VMs (reverse id order),
 * deletes auto-delete snapshots and marks it deleted. Sync calls wait (SYNC_WAIT_SECONDS at
 * most: past that the work goes on and the state reads `deleting`); without `force` a failed
 * destroy answers `Error destroying the infrastructure: <msgs>` and the infrastructure is active
 * again so that it can be retried.
 */
import { errors } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { mutateInfrastructure } from '#core/mutate';
import { callerAndInfra, deletedPatch, liveVms, updateInfFrom, refreshedCloudAuth, requireDeleteMode, waitSync } from '#core/usecases/common';
import { executionError } from '#core/usecases/workflow-errors';

const DESTROY_ERROR = 'Error destroying the infrastructure: ';

export interface DestroyOptions {
  /** Mark deleted even if some cloud deletions failed (default false). */
  force?: boolean;
  /** Return as soon as the destroy started (default false). */
  async?: boolean;
}

export async function destroyInfrastructure(services: Services, auth: AuthItem[], infId: string, opts: DestroyOptions = {}): Promise<void> {
  requireDeleteMode(services);
  const { caller, inf } = await callerAndInfra(services, auth, infId);
  const cloudAuth = refreshedCloudAuth(services, inf, caller);
  const force = opts.force ?? false;
  await updateInfFrom(services, inf, (cur) => {
    if (cur.status === 'deleted') throw errors.infDeleted();
    // Without force, a destroy waits for the adds in flight (409). With force it always goes ahead, also
    // over adds or a destroy that an interruption left behind: the launches in flight see the
    // infrastructure deleting and fail their VMs (a VM launched meanwhile is finalized at once), and
    // the destroy finalizes whatever exists.
    if (!force && (cur.addingOps ?? []).length > 0) throw errors.invalidState();
    return { status: 'deleting', ...(force ? { addingOps: [] } : {}), ...(cloudAuth ? { cloudAuth } : {}) };
  });
  // The workflow lists the live VMs itself (reverse id order, last VM of each cloud at the end).
  const execution = await services.orchestrator.start('destroy', { infId, force });
  services.logger.info('Destroy started', { infId, force, execution });
  if (opts.async) return;
  const status = await waitSync(services, execution);
  if (status === 'RUNNING') return;
  const after = await services.store.getInfrastructure(infId);
  if (!after || after.status === 'deleted') return;
  if (status === 'SUCCEEDED' && (await liveVms(services, infId)).length === 0) {
    // Nothing was left to delete and the workflow did not mark it: do it here.
    await mutateInfrastructure(services.store, infId, (cur) => (cur.status === 'deleted' ? undefined : deletedPatch(services)));
    return;
  }
  // The workflow put it back to active with the errors in its log.
  await mutateInfrastructure(services.store, infId, (cur) => (cur.status === 'deleting' ? { status: 'active' } : undefined));
  const detail = await executionError(services, execution, DESTROY_ERROR, { infId, scope: 'inf' });
  throw errors.badRequest(`${DESTROY_ERROR}${detail ?? `the destroy ended ${status}`}`);
}
