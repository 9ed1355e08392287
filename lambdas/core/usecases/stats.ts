/**
 * GetStats: usage per infrastructure of the caller (admins: everyone), deleted ones included,
 * filtered on the creation time: init_date ≤ created < end_date (00:00 UTC).
 */
import { toscaName as toscaNameOf } from '#tosca/index';
import { errors } from '#core/errors';
import type { AuthItem, InfraRecord, Services, VmRecord } from '#core/types';
import { authenticate } from '#core/auth';
import { openCloudAuth } from '#core/cloud-auth';
import { callerInfrastructures } from '#core/usecases/list';
import { formatDateTime, vmSystem } from '#core/usecases/common';

export interface StatsItem {
  creation_date: string;
  tosca_name: string;
  vm_count: number;
  cpu_count: number;
  memory_size: number;
  cloud_type: string;
  cloud_host: string;
  hybrid: boolean;
  deleted: boolean;
  im_user: string;
  inf_id: string;
  last_date: string;
}

export const STATS_FIELDS: (keyof StatsItem)[] = [
  'creation_date',
  'tosca_name',
  'vm_count',
  'cpu_count',
  'memory_size',
  'cloud_type',
  'cloud_host',
  'hybrid',
  'deleted',
  'im_user',
  'inf_id',
  'last_date',
];

/**
 * `YYYY-MM-DD` or `YYYY/MM/DD` → epoch ms (00:00 UTC); anything else → 400
 * `Incorrect format in <name> parameter: YYYY/MM/dd`.
 */
export function parseStatsDate(name: string, value: string): number {
  const m = /^(\d{1,4})-(\d{1,2})-(\d{1,2})$/.exec(value.trim().replaceAll('/', '-'));
  const bad = () => errors.badRequest(`Incorrect format in ${name} parameter: YYYY/MM/dd`);
  if (!m) throw bad();
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const check = new Date(t);
  if (y < 1 || check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) throw bad();
  return t;
}

function toscaName(inf: InfraRecord): string {
  return inf.tosca ? toscaNameOf(inf.tosca) : '';
}

function statsItem(services: Services, inf: InfraRecord, vms: VmRecord[]): StatsItem {
  let cpu = 0;
  let mem = 0;
  for (const vm of vms) {
    try {
      const sys = vmSystem(vm);
      cpu += sys.getNumber('cpu.count') ?? 0;
      mem += sys.getNumber('memory.size', 'M') ?? 0;
    } catch {
      // a VM without a readable system counts as zero
    }
  }
  let hosts: string[] = [];
  try {
    const items = openCloudAuth(services, inf);
    hosts = vms.map((vm) => items.find((i) => i.id === vm.cloudId)?.host ?? '');
  } catch {
    hosts = vms.map(() => '');
  }
  const hostKeys = new Set(vms.map((vm, i) => hosts[i] || vm.cloudId));
  return {
    creation_date: formatDateTime(inf.createdAt),
    tosca_name: toscaName(inf),
    vm_count: vms.length,
    cpu_count: cpu,
    memory_size: Math.round(mem),
    cloud_type: vms[0]?.cloudType ?? '',
    cloud_host: hosts[0] ?? '',
    hybrid: hostKeys.size > 1,
    deleted: inf.status === 'deleted',
    im_user: inf.owners[0]?.username ?? '',
    inf_id: inf.id,
    last_date: formatDateTime(inf.updatedAt),
  };
}

/** `initDate` / `endDate`: epoch ms from {@link parseStatsDate} (end exclusive). */
export async function getStats(services: Services, auth: AuthItem[], initDate?: number, endDate?: number): Promise<StatsItem[]> {
  const caller = await authenticate(services, auth);
  const infs = (await callerInfrastructures(services, caller, true)).filter(
    (inf) => inf.createdAt >= (initDate ?? 0) && (endDate === undefined || inf.createdAt < endDate),
  );
  const vmLists = await Promise.all(infs.map((inf) => services.store.listVms(inf.id)));
  return infs.map((inf, i) => statsItem(services, inf, vmLists[i]));
}

/** CSV with a header row (fields quoted when needed). */
export function statsToCsv(items: StatsItem[]): string {
  const cell = (v: unknown) => {
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const rows = [STATS_FIELDS.join(','), ...items.map((it) => STATS_FIELDS.map((f) => cell(it[f])).join(','))];
  return rows.join('\n') + '\n';
}
