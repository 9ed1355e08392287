/**
 * GetInfrastructureContMsg: the infrastructure log, then (unless headeronly) for every live VM
 * with a non-empty log `VM <id>:\n<vm log>\n` and a line of 75 `*`.
 */
import type { AuthItem, Services } from '#core/types';
import { callerAndInfra, liveVms } from '#core/usecases/common';
import { vmContMsg } from '#core/usecases/get-vm-contmsg';

const SEPARATOR = '*'.repeat(75);

export async function getInfrastructureContMsg(services: Services, auth: AuthItem[], infId: string, headeronly = false): Promise<string> {
  await callerAndInfra(services, auth, infId);
  const [head, vms] = await Promise.all([services.store.getLog(infId, 'inf'), headeronly ? [] : liveVms(services, infId)]);
  const logs = await Promise.all(vms.map((vm) => vmContMsg(services, vm)));
  let res = head;
  vms.forEach((vm, i) => {
    if (logs[i]) res += `VM ${vm.vmId}:\n${logs[i]}\n${SEPARATOR}\n`;
  });
  return res;
}
