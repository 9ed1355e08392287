/**
 * The playbooks and the ansible.cfg of a contextualization (pure).
 *
 * - basic playbook (every VM that takes part): wait for SSH, gather facts (cached for the later runs),
 *   set the host name (IM_NODE_FQDN), put every node in /etc/hosts, then `main_<system>` plays (install
 *   the non-Ansible applications of `disk.0.applications`, format and mount data disks), and last the new
 *   credentials (`disk.0.os.credentials.new.password` / `.new.public_key`): first on the other VMs, then
 *   on the master, whose credentials the jump connections of the others use.
 * - one step playbook per (step, system): the plays of every configure task of that system at that step,
 *   in order, each with IM's header (`hosts: <system group>`, `become: yes` unless Windows) merged into
 *   the recipe's plays as IM's merge_recipes does.
 * Every play carries `vars.im_ctxt_task` so the runner knows which task (`Launch task: …`) it belongs to.
 */
import { join } from 'node:path';
import type { CtxtNode } from '#runner/nodes';
import { isVaultText, vaultDecrypt } from '#runner/vault';
import { dumpYaml, loadYaml, unsafe } from '#runner/yaml';

export type Play = Record<string, unknown>;

export const PLAY_KEYWORDS = new Set([
  'hosts',
  'tasks',
  'pre_tasks',
  'post_tasks',
  'roles',
  'handlers',
  'vars',
  'vars_files',
  'vars_prompt',
  'gather_facts',
  'become',
  'become_user',
  'import_playbook',
  'name',
  'serial',
  'strategy',
  'collections',
  'environment',
  'any_errors_fatal',
  'max_fail_percentage',
  'module_defaults',
]);

export interface AnsibleCfgOptions {
  workDir: string;
  forks: number;
  /** ssh connection timeout (s). */
  timeout: number;
  callbackDir: string;
  callbackName: string;
}

/** ansible.cfg: no host key checks, pipelining, ControlPersist=no, fact cache in the work folder. */
export function ansibleCfg(o: AnsibleCfgOptions): string {
  return [
    '[defaults]',
    'host_key_checking = False',
    `forks = ${Math.max(5, o.forks)}`,
    `timeout = ${o.timeout}`,
    'gathering = smart',
    'fact_caching = jsonfile',
    `fact_caching_connection = ${join(o.workDir, 'facts')}`,
    'fact_caching_timeout = 86400',
    `stdout_callback = ${o.callbackName}`,
    `callback_plugins = ${o.callbackDir}`,
    `roles_path = ${join(o.workDir, 'roles')}`,
    `collections_path = ${join(o.workDir, 'collections')}`,
    `local_tmp = ${join(o.workDir, 'tmp')}`,
    'retry_files_enabled = False',
    'interpreter_python = auto_silent',
    'force_valid_group_names = ignore',
    'deprecation_warnings = False',
    'system_warnings = False',
    'command_warnings = False',
    'localhost_warning = False',
    'nocows = True',
    '',
    '[ssh_connection]',
    'pipelining = True',
    'ssh_args = -o ControlMaster=auto -o ControlPersist=no -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ServerAliveInterval=30',
    `control_path_dir = ${join(o.workDir, 'cp')}`,
    'retries = 2',
    '',
  ].join('\n');
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

/** Galaxy requirements from `ansible.roles.*` / `ansible.collections.*` applications. */
export function galaxyRequirements(nodes: CtxtNode[]): { roles: Record<string, string>[]; collections: Record<string, string>[] } {
  const roles = new Map<string, Record<string, string>>();
  const collections = new Map<string, Record<string, string>>();
  for (const n of nodes) {
    for (const app of n.applications) {
      if (app.name.startsWith('ansible.roles.')) {
        const spec = app.name.slice('ansible.roles.'.length);
        // `name,version`, `url|rolename` or `git+https://…|rolename`
        const [src, name] = spec.includes('|') ? spec.split('|', 2) : [spec, undefined];
        const [source, ver] = src.includes(',') && !src.includes('://') ? src.split(',', 2) : [src, app.version];
        const r: Record<string, string> = { src: source };
        if (name) r.name = name;
        if (ver) r.version = ver;
        roles.set(name ?? source, r);
      } else if (app.name.startsWith('ansible.collections.')) {
        const spec = app.name.slice('ansible.collections.'.length);
        const [name, ver] = spec.includes(',') ? spec.split(',', 2) : [spec, app.version];
        const c: Record<string, string> = { name };
        if (ver) c.version = ver;
        collections.set(name, c);
      }
    }
  }
  return { roles: [...roles.values()], collections: [...collections.values()] };
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

export interface BasicPlaybookInput {
  nodes: CtxtNode[];
  /** All nodes with an IP (for /etc/hosts), including those not contextualized. */
  allNodes: CtxtNode[];
  hostNames: Map<number, string>;
  masterVmId?: number;
  /** Seconds wait_for_connection waits for each VM. */
  sshWaitTimeout: number;
}

/** The basic playbook (see the module comment). */
export function basicPlaybook(input: BasicPlaybookInput): string {
  const plays: Play[] = [];
  const linux = 'all:!windows';
  plays.push({
    name: 'basic',
    hosts: linux,
    gather_facts: false,
    become: true,
    vars: { im_ctxt_task: 'basic' },
    tasks: [
      { name: 'Wait for the SSH access', wait_for_connection: { timeout: Math.max(1, Math.round(input.sshWaitTimeout)), sleep: 2 }, become: false },
      { name: 'Gather facts', setup: {} },
      { name: 'Set the hostname of the node', hostname: { name: '{{ IM_NODE_FQDN }}' }, ignore_errors: true },
      {
        name: 'Apply the hostname to the running system',
        shell: '[ "$(hostname)" = "$IM_FQDN" ] || { hostname "$IM_FQDN" && echo changed; }',
        environment: { IM_FQDN: '{{ IM_NODE_FQDN }}' },
        register: 'im_hostname',
        changed_when: "'changed' in im_hostname.stdout",
        ignore_errors: true,
      },
      {
        name: 'Add the nodes of the infrastructure to /etc/hosts',
        blockinfile: {
          path: '/etc/hosts',
          block: unsafe(etcHostsBlock(input.allNodes)),
          marker: '# {mark} IM managed block: nodes of the infrastructure',
          unsafe_writes: true,
        },
      },
    ],
  });

  const bySystem = new Map<string, CtxtNode[]>();
  for (const n of input.nodes) bySystem.set(n.systemName, [...(bySystem.get(n.systemName) ?? []), n]);
  for (const [system, nodes] of bySystem) {
    const tasks = mainTasks(nodes[0]);
    if (tasks.length === 0 || nodes[0].os === 'windows') continue;
    plays.push({ name: `main_${system}`, hosts: system, gather_facts: false, become: true, vars: { im_ctxt_task: `main_${system}` }, tasks });
  }

  const credTasks: Play[] = [
    {
      name: 'Change the password of the user',
      command: 'chpasswd',
      args: { stdin: '{{ ansible_user }}:{{ im_ctxt_new_password }}' },
      no_log: true,
      when: 'im_ctxt_new_password is defined',
    },
    {
      name: 'Create the .ssh folder of the user',
      file: { path: '~/.ssh', state: 'directory', mode: '0700' },
      become: false,
      when: 'im_ctxt_new_public_key is defined',
    },
    {
      name: 'Authorize the new public key',
      lineinfile: { path: '~/.ssh/authorized_keys', line: '{{ im_ctxt_new_public_key }}', create: true, mode: '0600' },
      become: false,
      when: 'im_ctxt_new_public_key is defined',
    },
  ];
  const changing = input.nodes.filter((n) => n.os !== 'windows' && (n.newCreds.password || n.newCreds.publicKey));
  const masterName = input.masterVmId !== undefined ? input.hostNames.get(input.masterVmId) : undefined;
  const others = changing.filter((n) => n.vmId !== input.masterVmId).map((n) => input.hostNames.get(n.vmId)).filter((h): h is string => !!h);
  if (others.length > 0) {
    plays.push({ name: 'Change the credentials', hosts: others.join(','), gather_facts: false, become: true, vars: { im_ctxt_task: 'basic' }, tasks: credTasks });
  }
  if (masterName && changing.some((n) => n.vmId === input.masterVmId)) {
    plays.push({ name: 'Change the credentials of the master VM', hosts: masterName, gather_facts: false, become: true, vars: { im_ctxt_task: 'basic' }, tasks: credTasks });
  }
  return dumpYaml(plays);
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

function varsDict(v: unknown): Record<string, unknown> {
  if (isPlain(v)) return { ...v };
  if (Array.isArray(v)) return Object.assign({}, ...v.filter(isPlain));
  return {};
}

/**
 * The plays of a recipe (YAML text, possibly vault-encrypted) with IM's header merged in: lists are
 * concatenated (header first), dicts merged, other values taken from the recipe. A recipe that is a
 * list of tasks (no play keywords) becomes one play; a mapping is one play. `import_playbook` entries
 * are kept as they are.
 */
export function recipePlays(recipe: string, header: Play, vaultPassword?: string): Play[] {
  let text = recipe;
  if (isVaultText(text)) {
    if (!vaultPassword) throw new Error('The recipe is vault-encrypted but the system has no vault.password');
    text = vaultDecrypt(text, vaultPassword);
  }
  let doc: unknown;
  try {
    doc = loadYaml(text);
  } catch (err) {
    throw new Error(`Error parsing YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  let plays: Play[];
  if (isPlain(doc)) plays = [doc];
  else if (Array.isArray(doc) && doc.every(isPlain)) {
    const looksLikePlays = (doc as Play[]).some((p) => Object.keys(p).some((k) => PLAY_KEYWORDS.has(k)));
    plays = looksLikePlays ? (doc as Play[]) : [{ tasks: doc }];
  } else {
    throw new Error('Error parsing YAML: a recipe must be a list of plays (or of tasks)');
  }
  return plays.map((p) => {
    if ('import_playbook' in p) return p;
    const out: Play = { ...header };
    for (const [k, v] of Object.entries(p)) {
      const h = out[k];
      if (k === 'vars') out.vars = { ...varsDict(h), ...varsDict(v) };
      else if (Array.isArray(h) && Array.isArray(v)) out[k] = [...h, ...v];
      else if (isPlain(h) && isPlain(v)) out[k] = { ...h, ...v };
      else out[k] = v;
    }
    out.vars = { ...varsDict(out.vars), im_ctxt_task: varsDict(header.vars).im_ctxt_task };
    return out;
  });
}

/** IM's header of a configure task play. */
export function taskHeader(taskName: string, system: string, os: string): Play {
  // Facts come from the cache the basic play filled (hostvars of every node), as IM's _all wrappers give.
  const h: Play = { name: taskName, hosts: system, gather_facts: false };
  if (os !== 'windows') h.become = true;
  h.vars = { im_ctxt_task: taskName };
  return h;
}

export function dumpPlaybook(plays: Play[]): string {
  return dumpYaml(plays);
}
