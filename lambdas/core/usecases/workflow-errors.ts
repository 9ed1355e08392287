/**
 * After a synchronous workflow ended badly: the error texts it recorded (the last line each
 * workflow wrote to the VM logs, else to the infrastructure log), for the `Error …: <msgs>` answers.
 */
import type { Services } from '#core/types';

const TS_PREFIX = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?: /;

function lastLine(log: string): string | undefined {
  const last = log
    .split('\n')
    .filter((l) => l.trim() !== '')
    .at(-1);
  return last?.replace(TS_PREFIX, '');
}

export async function workflowErrors(services: Services, infId: string, vmIds: number[]): Promise<string[]> {
  const logs = await Promise.all(vmIds.map((id) => services.store.getLog(infId, id)));
  const messages = logs.map(lastLine).filter((l): l is string => l !== undefined);
  if (messages.length > 0) return messages;
  const inf = lastLine(await services.store.getLog(infId, 'inf'));
  return inf ? [inf] : [];
}
