/**
 * The basic plays of a contextualization (pure): what IM's basic play does on every VM before the
 * user's recipes (lifecycle.md §3), written here from that list of effects.
 *
 * `basic` (strategy free: every VM goes at its own pace), on every Linux VM that takes part:
 *  1. raw (no Python needed, before any fact gathering): wait while a package manager holds its lock
 *     (dpkg/apt/rpm locks in /proc/locks, live yum/dnf/zypper pid files; cloud-init and unattended
 *     upgrades often run at boot), install Python when the image has none (apt, dnf, yum, zypper, apk),
 *     and the Python SELinux bindings where SELinux is enabled (Ansible's file modules need them). Its SSH
 *     connection is retried for up to WAIT_SSH_ACCCESS_TIMEOUT (the VM's SSH may still be starting).
 *  2. gather facts, once: they go to the fact cache that every later play reads;
 *  3. SELinux: enforcing → permissive, now and in /etc/selinux/config, so that it does not get in the way
 *     of the recipes;
 *  4. host name = IM_NODE_FQDN (the running system, /etc/hostname, hostnamectl where it answers,
 *     /etc/sysconfig/network on old Red Hat systems);
 *  5. /etc/hosts: an IM-managed block with every node of the infrastructure (blockinfile's markers);
 *  6. on the master VM: its SSH key pair, REMOTE_CONF_DIR/<infId>/ansible_key (kept across runs).
 * `main_<system>`: the non-Ansible applications of `disk.0.applications`, data disks formatted and mounted.
 * `basic` again, on every VM: the master's public key in the user's authorized_keys (so that the master
 * reaches every node), then the new credentials (`disk.0.os.credentials.new.password` with chpasswd,
 * `new.public_key` authorized) of the other VMs; last the master's new credentials, because the jump
 * connections to the VMs without public IP use the master's.
 * Every play carries `vars.im_ctxt_task` (the task the output belongs to: `Launch task: basic`).
 */
import type { CtxtNode } from '#runner/nodes';
import type { Play } from '#runner/playbooks';
import { unsafe } from '#runner/yaml';

export interface BasicPlaysInput {
  /** The Linux VMs that take part (they run everything below). */
  nodes: CtxtNode[];
  /** All nodes with an IP (for /etc/hosts), including those not contextualized. */
  allNodes: CtxtNode[];
  hostNames: Map<number, string>;
  /** The master VM, when it is one of `nodes`. */
  masterVmId?: number;
  infId: string;
  /** REMOTE_CONF_DIR: the master's key pair goes to `<dir>/<infId>/ansible_key`. */
  remoteConfDir: string;
  /** Seconds the first SSH connection is retried for (WAIT_SSH_ACCCESS_TIMEOUT). */
  sshWaitTimeout: number;
  /** Seconds to wait for a busy package manager before going on (default 600). */
  pkgLockTimeout?: number;
}

export const MASTER_KEY_NAME = 'ansible_key';
export const HOSTS_MARKER = 'IM managed block: nodes of the infrastructure';

/**
 * SSH connection retries so that Ansible's back-off (0, 1, 3, 7, 15, then 30 s between attempts) spans
 * at least `seconds`; at most 15.
 */
export function sshRetriesFor(seconds: number): number {
  let waited = 0;
  let retries = 0;
  while (waited < seconds && retries < 15) {
    waited += Math.min(2 ** retries - 1, 30);
    retries++;
  }
  return retries;
}

/** The /etc/hosts block: `<ip> <fqdn> <hostname>` per named interface, else for the node's main IP. */
export function etcHostsBlock(nodes: CtxtNode[]): string {
  const lines: string[] = [];
  for (const n of [...nodes].sort((a, b) => a.vmId - b.vmId)) {
    if (!n.ip) continue;
    const named = n.ifaces.filter((f) => f.hostname);
    for (const f of named) {
      const ip = f.ip ?? n.ifaces.find((g) => g.ip)?.ip;
      if (!ip) continue;
      const fqdn = f.domain ? `${f.hostname}.${f.domain}` : (f.hostname as string);
      lines.push(fqdn === f.hostname ? `${ip} ${fqdn}` : `${ip} ${fqdn} ${f.hostname}`);
    }
    if (named.length === 0) lines.push(n.fqdn === n.hostname ? `${n.ip} ${n.fqdn}` : `${n.ip} ${n.fqdn} ${n.hostname}`);
  }
  return lines.join('\n');
}

/** The package to install for a `disk.0.applications` entry, or undefined (Ansible roles, preinstalled…). */
export function packageName(app: { name: string; preinstalled?: boolean }): string | undefined {
  if (!app.name || app.preinstalled) return undefined;
  if (app.name.startsWith('ansible.')) return undefined;
  const parts = app.name.split('.');
  const short = parts[parts.length - 1];
  return /^[A-Za-z0-9][A-Za-z0-9+._-]*$/.test(short) ? short : undefined;
}

/** Lock files that apt, dpkg and rpm hold (fcntl) while they work. */
export const PKG_LOCK_FILES = ['/var/lib/dpkg/lock-frontend', '/var/lib/dpkg/lock', '/var/lib/apt/lists/lock', '/var/cache/apt/archives/lock', '/var/lib/rpm/.rpm.lock'];

/** POSIX sh, run with the raw module: package manager lock, Python, SELinux bindings. Prints IM_CHANGED. */
export function bootstrapScript(pkgLockTimeout: number, lockFiles: string[] = PKG_LOCK_FILES): string {
  return `im_pm_busy() {
  for f in ${lockFiles.map((f) => `'${f.replace(/'/g, '')}'`).join(' ')}; do
    [ -e "$f" ] || continue
    i=$(stat -c %i "$f" 2>/dev/null) || continue
    grep -Eq " [0-9a-f]+:[0-9a-f]+:$i " /proc/locks 2>/dev/null && return 0
  done
  for f in /var/run/yum.pid /run/yum.pid /var/lib/dnf/rpmdb_lock.pid /var/cache/dnf/metadata_lock.pid /run/zypp.pid; do
    [ -s "$f" ] && kill -0 "$(cat "$f" 2>/dev/null)" 2>/dev/null && return 0
  done
  return 1
}
t=0
while im_pm_busy; do
  if [ "$t" -ge ${Math.max(0, Math.round(pkgLockTimeout))} ]; then echo "The package manager is still busy after $t s: going on."; break; fi
  [ "$t" -eq 0 ] && echo "Waiting for the package manager to finish."
  sleep 2
  t=$((t + 2))
done
im_python() { command -v python3 || command -v python || { [ -x /usr/libexec/platform-python ] && echo /usr/libexec/platform-python; }; }
if [ -z "$(im_python)" ]; then
  echo "No Python on this image: installing python3."
  if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q python3 >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q python3; }
  elif command -v dnf >/dev/null 2>&1; then dnf install -y -q python3
  elif command -v yum >/dev/null 2>&1; then yum install -y -q python3 || yum install -y -q python
  elif command -v zypper >/dev/null 2>&1; then zypper -n -q install python3
  elif command -v apk >/dev/null 2>&1; then apk add -q python3
  fi
  [ -n "$(im_python)" ] || { echo "Python could not be installed."; exit 1; }
  echo IM_CHANGED
fi
if command -v getenforce >/dev/null 2>&1 && [ "$(getenforce 2>/dev/null)" != Disabled ] && ! "$(im_python)" -c 'import selinux' >/dev/null 2>&1; then
  echo "Installing the Python SELinux bindings."
  if command -v dnf >/dev/null 2>&1; then dnf install -y -q python3-libselinux
  else yum install -y -q libselinux-python3 || yum install -y -q libselinux-python
  fi
  echo IM_CHANGED
fi
exit 0
`;
}

const SELINUX_PERMISSIVE = `c=0
if [ "$(getenforce 2>/dev/null)" = Enforcing ]; then setenforce 0 && c=1; fi
if grep -q '^SELINUX=enforcing' /etc/selinux/config 2>/dev/null; then sed -i 's/^SELINUX=enforcing/SELINUX=permissive/' /etc/selinux/config && c=1; fi
if [ "$c" = 1 ]; then echo IM_CHANGED; fi`;

const SET_HOSTNAME = `N="$IM_FQDN"
c=0
if command -v hostnamectl >/dev/null 2>&1 && [ "$(hostnamectl --static 2>/dev/null)" != "$N" ]; then hostnamectl set-hostname "$N" >/dev/null 2>&1 && c=1; fi
if [ "$(hostname)" != "$N" ]; then hostname "$N" && c=1; fi
if [ "$(cat /etc/hostname 2>/dev/null)" != "$N" ]; then echo "$N" > /etc/hostname && c=1; fi
if [ -f /etc/sysconfig/network ] && grep -q '^HOSTNAME=' /etc/sysconfig/network && ! grep -qx "HOSTNAME=$N" /etc/sysconfig/network; then
  sed -i "s/^HOSTNAME=.*/HOSTNAME=$N/" /etc/sysconfig/network && c=1
fi
if [ "$c" = 1 ]; then echo IM_CHANGED; fi`;

const MASTER_KEY = `set -e
D="$IM_DIR"
mkdir -p "$D"
chmod 700 "$D"
if [ ! -s "$D/${MASTER_KEY_NAME}" ] || [ ! -s "$D/${MASTER_KEY_NAME}.pub" ]; then
  if ! command -v ssh-keygen >/dev/null 2>&1; then echo "No ssh-keygen on the master VM: its key is not distributed."; exit 0; fi
  rm -f "$D/${MASTER_KEY_NAME}" "$D/${MASTER_KEY_NAME}.pub"
  ssh-keygen -q -t ed25519 -N '' -C "im-$IM_INF" -f "$D/${MASTER_KEY_NAME}" >/dev/null 2>&1 || ssh-keygen -q -t rsa -b 3072 -N '' -C "im-$IM_INF" -f "$D/${MASTER_KEY_NAME}" >/dev/null
  echo IM_CHANGED
fi
chown -R "$IM_USER" "$D"
echo "IM_PUBKEY $(cat "$D/${MASTER_KEY_NAME}.pub")"`;

/**
 * Replaces the IM block of /etc/hosts (`# BEGIN …` / `# END …` lines, as Ansible's blockinfile writes
 * them) with "$IM_BLOCK" where it is, or adds it at the end; rewrites the file in place (it may be a
 * bind mount).
 */
const ETC_HOSTS = `export IM_BLOCK
B='# BEGIN ${HOSTS_MARKER}'
E='# END ${HOSTS_MARKER}'
T=$(mktemp) || exit 1
awk -v b="$B" -v e="$E" '
  $0 == b { print b; print ENVIRON["IM_BLOCK"]; print e; skip = 1; done = 1; next }
  skip { if ($0 == e) skip = 0; next }
  { print }
  END { if (!done) { print b; print ENVIRON["IM_BLOCK"]; print e } }' /etc/hosts > "$T"
if cmp -s "$T" /etc/hosts; then rm -f "$T"; else cat "$T" > /etc/hosts && rm -f "$T" && echo IM_CHANGED; fi`;

/** Appends "$IM_KEY" to the user's authorized_keys once (run as the user). */
const AUTHORIZE_KEY = `mkdir -p "$HOME/.ssh"
chmod 700 "$HOME/.ssh"
touch "$HOME/.ssh/authorized_keys"
chmod 600 "$HOME/.ssh/authorized_keys"
if ! grep -qxF "$IM_KEY" "$HOME/.ssh/authorized_keys"; then printf '%s\\n' "$IM_KEY" >> "$HOME/.ssh/authorized_keys"; echo IM_CHANGED; fi`;

/**
 * A raw task (one SSH command, no Python module: the cheapest kind of task) running `script` with /bin/sh
 * after the shell variables `vars` (Jinja expressions, shell-quoted by Ansible). It is `changed` when the
 * script prints IM_CHANGED; its result goes to `reg`. The scripts hold no Jinja delimiters: everything
 * that comes from a user is in `vars`, quoted.
 */
function rawTask(name: string, reg: string, vars: Record<string, string>, script: string, extra: Play = {}): Play {
  const assign = Object.entries(vars).map(([k, v]) => `${k}={{ ${v} | quote }}\n`);
  return { name, raw: `${assign.join('')}${script}`, args: { executable: '/bin/sh' }, register: reg, changed_when: `'IM_CHANGED' in ${reg}.stdout`, ...extra };
}

function mainTasks(node: CtxtNode): Play[] {
  const tasks: Play[] = [];
  for (const app of node.applications) {
    const pkg = packageName(app);
    if (!pkg) continue;
    tasks.push({ name: `Install ${pkg}`, package: { name: pkg, state: 'present' }, ignore_errors: true });
  }
  for (const d of node.dataDisks) {
    const dev = d.device.startsWith('/') ? d.device : `/dev/${d.device}`;
    tasks.push({
      name: `Format and mount disk ${d.index} (${dev} on ${d.mountPath})`,
      shell: unsafe(
        [
          'set -e',
          `DEV='${dev}'; MP='${d.mountPath.replace(/'/g, '')}'; FS='${d.fstype.replace(/'/g, '')}'`,
          'blkid "$DEV" >/dev/null 2>&1 || mkfs -t "$FS" "$DEV"',
          'mkdir -p "$MP"',
          'mountpoint -q "$MP" || { mount -t "$FS" "$DEV" "$MP"; echo mounted; }',
          'grep -qs " $MP " /etc/fstab || echo "$DEV $MP $FS defaults,nofail 0 0" >> /etc/fstab',
        ].join('\n'),
      ),
      register: 'im_disk',
      changed_when: "'mounted' in im_disk.stdout",
    });
  }
  return tasks;
}

const credentialTasks: Play[] = [
  {
    name: 'Change the password of the user',
    command: 'chpasswd',
    args: { stdin: '{{ ansible_user }}:{{ im_ctxt_new_password }}' },
    no_log: true,
    when: 'im_ctxt_new_password is defined',
  },
  rawTask('Authorize the new public key', 'im_new_key', { IM_KEY: 'im_ctxt_new_public_key' }, AUTHORIZE_KEY, {
    become: false,
    when: 'im_ctxt_new_public_key is defined',
  }),
];

/** The basic plays (see the module comment); [] when no VM takes part. */
export function basicPlays(input: BasicPlaysInput): Play[] {
  const linux = input.nodes.filter((n) => n.os !== 'windows' && input.hostNames.has(n.vmId));
  if (linux.length === 0) return [];
  const name = (n: CtxtNode) => input.hostNames.get(n.vmId) as string;
  const master = linux.find((n) => n.vmId === input.masterVmId);
  const masterHost = master ? name(master) : undefined;
  const vars: Play = { im_ctxt_task: 'basic' };
  if (masterHost) vars.im_master_host = masterHost;

  const tasks: Play[] = [
    rawTask('Bootstrap Python and wait for the package manager', 'im_bootstrap', {}, bootstrapScript(input.pkgLockTimeout ?? 600), {
      vars: { ansible_ssh_retries: sshRetriesFor(input.sshWaitTimeout) },
    }),
    { name: 'Gather facts', setup: {} },
    rawTask('Set SELinux to permissive', 'im_selinux', {}, SELINUX_PERMISSIVE, { when: "ansible_selinux is mapping and ansible_selinux.status | default('') == 'enabled'" }),
    rawTask('Set the hostname of the node', 'im_hostname', { IM_FQDN: 'IM_NODE_FQDN' }, SET_HOSTNAME),
    rawTask('Add the nodes of the infrastructure to /etc/hosts', 'im_etc_hosts', { IM_BLOCK: 'im_hosts_block' }, ETC_HOSTS, {
      vars: { im_hosts_block: unsafe(etcHostsBlock(input.allNodes)) },
    }),
  ];
  if (masterHost) {
    tasks.push(
      rawTask('Create the SSH key of the master VM', 'im_master_key', { IM_DIR: 'im_key_dir', IM_USER: 'ansible_user', IM_INF: 'IM_INFRASTRUCTURE_ID' }, MASTER_KEY, {
        vars: { im_key_dir: unsafe(`${input.remoteConfDir.replace(/\/+$/, '')}/${input.infId}`) },
        when: 'inventory_hostname == im_master_host',
      }),
      {
        name: 'Remember the public key of the master VM',
        set_fact: {
          im_master_pubkey: "{{ im_master_key.stdout_lines | select('match', '^IM_PUBKEY ') | map('regex_replace', '^IM_PUBKEY ', '') | first | default('') }}",
        },
        when: 'inventory_hostname == im_master_host',
      },
    );
  }
  const plays: Play[] = [
    { name: 'basic', hosts: linux.map(name).join(','), gather_facts: false, become: true, strategy: 'free', vars, tasks },
  ];

  const bySystem = new Map<string, CtxtNode[]>();
  for (const n of linux) bySystem.set(n.systemName, [...(bySystem.get(n.systemName) ?? []), n]);
  for (const [system, nodes] of bySystem) {
    const main = mainTasks(nodes[0]);
    if (main.length === 0) continue;
    plays.push({ name: `main_${system}`, hosts: nodes.map(name).join(','), gather_facts: false, become: true, strategy: 'free', vars: { im_ctxt_task: `main_${system}` }, tasks: main });
  }

  const changes = (n: CtxtNode) => !!(n.newCreds.password || n.newCreds.publicKey);
  const others = linux.filter((n) => n.vmId !== input.masterVmId);
  const keysTasks: Play[] = [];
  if (masterHost) {
    keysTasks.push(
      rawTask("Authorize the master VM's public key", 'im_master_key_auth', { IM_KEY: 'hostvars[im_master_host].im_master_pubkey' }, AUTHORIZE_KEY, {
        become: false,
        when: "hostvars[im_master_host].im_master_pubkey | default('') != ''",
      }),
    );
  }
  const othersChanging = others.filter(changes);
  const keyPlay: Play[] = [...keysTasks, ...(othersChanging.length > 0 ? credentialTasks.map((t) => ({ ...t, when: [t.when, 'inventory_hostname != (im_master_host | default(""))'] })) : [])];
  if (keyPlay.length > 0) {
    const hosts = masterHost ? linux : othersChanging;
    plays.push({ name: 'Authorize the master key and change the credentials', hosts: hosts.map(name).join(','), gather_facts: false, become: true, strategy: 'free', vars, tasks: keyPlay });
  }
  if (master && changes(master)) {
    plays.push({ name: 'Change the credentials of the master VM', hosts: name(master), gather_facts: false, become: true, vars, tasks: credentialTasks });
  }
  return plays;
}
