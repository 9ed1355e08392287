/**
 * Finalize (openstack.md §6): the VM's floating IPs, the server, the volumes added by alter, and with the last
 * VM of the infrastructure its security groups, networks and router. Idempotent: anything already gone (404)
 * counts as done, so a retry after a partial failure completes the work. Unlike IM, a server that is already
 * gone does not stop the removal of the volumes and floating IPs the connector recorded for it.
 */
import { ImError } from '#core/errors';
import type { AuthItem, VmHandle } from '#core/types';
import type { OstEnv } from '#connectors/openstack/env';
import { sessionFor } from '#connectors/openstack/env';
import { errorText, isNotFound, isTransient } from '#connectors/openstack/errors';
import { readCloudData } from '#connectors/openstack/cloud-data';
import { removeServerFips } from '#connectors/openstack/floating-ips';
import { removeVolumes } from '#connectors/openstack/volumes';
import { deleteSecurityGroups, sgName } from '#connectors/openstack/security-groups';
import { deleteInfraNetworks } from '#connectors/openstack/network-create';
import { waitServerGone } from '#connectors/openstack/launch';

export async function finalize(env: OstEnv, vm: VmHandle, last: boolean, auth: AuthItem): Promise<void> {
  const s = sessionFor(env, auth);
  const data = readCloudData(vm.cloudData);
  const sid = vm.providerId || data.serverId;
  const messages: string[] = [];
  let transient = false;
  const note = (err: unknown, prefix = '') => {
    transient ||= isTransient(err);
    messages.push(prefix + errorText(err, s.secretValues()));
  };

  let exists = false;
  if (sid) {
    try {
      await s.request('compute', 'GET', `/servers/${encodeURIComponent(sid)}`);
      exists = true;
    } catch (err) {
      if (!isNotFound(err)) note(err);
    }
  }
  if (messages.length) throw new ImError(transient ? 'CLOUD_RETRYABLE' : 'BAD_REQUEST', messages.join('\n '));

  const fipMessages = await removeServerFips(s, exists ? sid : undefined, data, vm.infId, last);
  if (fipMessages.length) {
    transient = true;
    messages.push(...fipMessages);
  }
  let deleted = !exists;
  if (exists && sid) {
    try {
      await s.request('compute', 'DELETE', `/servers/${sid}`);
      deleted = true;
    } catch (err) {
      if (isNotFound(err)) deleted = true;
      else note(err);
    }
  }
  const wait = { intervalMs: env.timing.volumePollMs, budgetMs: env.timing.volumeWaitMs, sleep: env.sleep, now: env.now };
  if (deleted && data.volumes.length) {
    const vmsg = await removeVolumes(s, sid, data.volumes, wait, true);
    if (vmsg.length) {
      transient = true;
      messages.push(...vmsg);
    }
  }
  if (last && deleted) {
    if (sid && exists && !(await waitServerGone(env, s, sid))) env.logger.warn('OpenStack server still deleting', { infId: vm.infId, vmId: vm.vmId });
    const names = [...new Set([...vm.radl.networks.map((n) => sgName(vm.infId, n)), ...(data.securityGroups ?? [])])];
    const sgMsgs = await deleteSecurityGroups(s, names, vm.infId, { retryMs: env.timing.sgRetryMs, budgetMs: env.timing.sgWaitMs, sleep: env.sleep, now: env.now });
    const netMsgs = await deleteInfraNetworks(s, vm.infId, data.createdNetworks ?? []);
    if (sgMsgs.length || netMsgs.length) {
      transient = true;
      messages.push(...sgMsgs, ...netMsgs);
    }
  }
  if (messages.length) {
    env.logger.warn('OpenStack finalize incomplete', { infId: vm.infId, vmId: vm.vmId, errors: messages.join(' | ') });
    throw new ImError(transient ? 'CLOUD_RETRYABLE' : 'BAD_REQUEST', messages.join('\n '));
  }
  env.logger.info('OpenStack VM finalized', { infId: vm.infId, vmId: vm.vmId, last });
}
