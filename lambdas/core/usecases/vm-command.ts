/**
 * The `command` VM property (rest-api.md §6.15), used by VMs without a public IP to open a reverse
 * SSH tunnel to the master:
 *  - step 1: a bash script that polls `…/command?step=2` (with the caller's IM credentials: owner
 *    secrets are only stored hashed, so the caller's own item is embedded) and installs a cron entry;
 *  - step 2: `wait` (master not ready), `true` (it is the master, or directly connected to it) or
 *    the `ssh -N -R <20000+vmId>:localhost:22 …` command to run.
 * Other steps → undefined (REST: 404 `Incorrect property command for VM ID <id>`).
 */
import type { AuthItem, Services, VmRecord } from '#core/types';
import { IM_AUTH_TYPE } from '#core/auth';
import { callerAndInfra, parseVmId, vmSystem } from '#core/usecases/common';

export const SSH_REVERSE_BASE_PORT = 20000;
const READY: VmRecord['state'][] = ['running', 'configured', 'unconfigured'];

const shQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

function step1(url: string, item: AuthItem): string {
  const imauth = item.token ? `token = ${item.token}` : `username = ${item.username ?? ''}; password = ${item.password ?? ''}`;
  const curl = `curl --insecure -s -H ${shQuote(`Authorization: type = ${IM_AUTH_TYPE}; ${imauth}`)} -H 'Accept: text/plain' ${shQuote(url)}`;
  const psCommand = "ps aux | grep -v grep | grep 'ssh -N -R'";
  return [
    '',
    'res="wait"',
    'while [ "$res" == "wait" ]',
    'do',
    `  res=\`${curl}\``,
    '  if [ "$res" != "wait" ]',
    '  then',
    '    echo "$res" > /var/tmp/reverse_ssh.sh',
    '    chmod a+x /var/tmp/reverse_ssh.sh',
    '    /var/tmp/reverse_ssh.sh',
    '    if [ "$res" != "true" ]',
    '    then',
    `      echo "*/1 * * * * root ${psCommand} || /var/tmp/reverse_ssh.sh" > /etc/cron.d/reverse_ssh`,
    '    fi',
    '  else',
    '    sleep 20',
    '  fi',
    'done',
  ].join('\n');
}

interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
  privateKey?: string;
  networks: string[];
  publicIp?: string;
}

function endpointOf(vm: VmRecord): SshEndpoint | undefined {
  const s = vmSystem(vm);
  const radlNets = s.getNetworkIds();
  let publicIp: string | undefined;
  let anyIp: string | undefined;
  const info = JSON.parse(vm.info) as { class: string; id: string; outbound?: string }[];
  const publicNets = new Set(info.filter((o) => o.class === 'network' && o.outbound === 'yes').map((o) => o.id));
  radlNets.forEach((net, i) => {
    const ip = s.getString(`net_interface.${i}.ip`);
    if (!ip) return;
    anyIp ??= ip;
    if (publicNets.has(net)) publicIp ??= ip;
  });
  const host = publicIp ?? anyIp;
  const user = s.getString('disk.0.os.credentials.username');
  if (!host || !user) return undefined;
  return {
    host,
    port: s.getNumber('disk.0.os.credentials.port') ?? 22,
    user,
    password: s.getString('disk.0.os.credentials.password'),
    privateKey: s.getString('disk.0.os.credentials.private_key'),
    networks: radlNets,
    publicIp,
  };
}

function sshCommand(infId: string, vmId: number, m: SshEndpoint): string {
  const reverse = `-R ${SSH_REVERSE_BASE_PORT + vmId}:localhost:22`;
  const opts = `-p ${m.port} -o "UserKnownHostsFile=/dev/null" -o "StrictHostKeyChecking=no"`;
  if (m.privateKey) {
    const file = `/tmp/${infId}_${vmId}.pem`;
    return `echo ${shQuote(m.privateKey)} > ${file} && chmod 400 ${file} && ssh -N ${reverse} ${opts} -i ${file} ${m.user}@${m.host} &`;
  }
  return `sshpass -p${shQuote(m.password ?? '')} ssh -N ${reverse} ${opts} ${m.user}@${m.host} &`;
}

export async function getVmCommand(
  services: Services,
  auth: AuthItem[],
  infId: string,
  vmId: string,
  step: number,
  baseUrl: string,
): Promise<string | undefined> {
  const { caller, inf } = await callerAndInfra(services, auth, infId);
  if (step === 1) {
    const item = caller.items.find((i) => i.type === IM_AUTH_TYPE) as AuthItem;
    return step1(`${baseUrl}/infrastructures/${infId}/vms/${vmId}/command?step=2`, item);
  }
  if (step !== 2) return undefined;
  const id = parseVmId(vmId);
  const vm = await services.store.getVm(infId, id);
  if (!vm || vm.destroyed) return 'wait';
  if (inf.vmMaster === undefined) return 'wait';
  if (inf.vmMaster === id) return 'true';
  const master = await services.store.getVm(infId, inf.vmMaster);
  if (!master || !READY.includes(master.state)) return 'wait';
  const m = endpointOf(master);
  if (!m) return 'wait';
  const own = endpointOf(vm);
  const ownNets = vmSystem(vm).getNetworkIds();
  if ((own?.publicIp && m.publicIp) || ownNets.some((n) => m.networks.includes(n))) return 'true';
  return sshCommand(infId, id, m);
}
