/**
 * The playbooks and the ansible.cfg of a contextualization (pure). The basic plays are in basic-play.ts.
 *
 * - The plays of a configure task: the recipe's plays with IM's header merged in (`hosts: <system
 *   group>`, `become: yes` unless Windows, `gather_facts: no`, `strategy: free`) as IM's merge_recipes does.
 * - One playbook per ansible-playbook run (a "unit": the basic plays, a step, or several of them): the
 *   plays in order, each tagged with its index (`vars.im_ctxt_play`), then an empty end play. The runner
 *   sees from the play events how far a run got: Ansible ends a playbook early when every host of a play
 *   failed, and the plays after it (other systems of the step) are then run again for the other hosts.
 * Every play carries `vars.im_ctxt_task` so the runner knows which task (`Launch task: …`) it belongs to.
 */
import { join } from 'node:path';
import type { CtxtNode } from '#runner/nodes';
import { isVaultText, vaultDecrypt } from '#runner/vault';
import { dumpYaml, loadYaml } from '#runner/yaml';

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
  /** Folder of the SSH master sockets (short: a socket path has at most 107 bytes). */
  controlPathDir: string;
  /** Seconds an idle SSH master connection stays open (ControlPersist). */
  controlPersist: number;
}

/**
 * ansible.cfg: no host key checks; facts gathered once per run (`gathering = smart`, jsonfile cache in
 * the work folder); pipelining; one multiplexed SSH connection per host for the whole run (ControlMaster,
 * sockets in the run's own folder, ControlPersist shorter than any run's pauses are long, and the masters
 * closed when the run ends: see ssh-mux.ts).
 */
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
    `ssh_args = -o ControlMaster=auto -o ControlPersist=${Math.max(1, Math.round(o.controlPersist))}s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ServerAliveInterval=30`,
    `control_path_dir = ${o.controlPathDir}`,
    'retries = 2',
    '',
  ].join('\n');
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

/**
 * IM's header of a configure task play. Facts come from the cache the basic play filled (hostvars of
 * every node), as IM's _all wrappers give. `strategy: free`: every VM runs the play at its own pace, as
 * each VM ran its tasks in its own process in IM (a recipe's own `strategy` wins).
 */
export function taskHeader(taskName: string, system: string, os: string): Play {
  const h: Play = { name: taskName, hosts: system, gather_facts: false, strategy: 'free' };
  if (os !== 'windows') h.become = true;
  h.vars = { im_ctxt_task: taskName };
  return h;
}

/** The name of the end play of every run's playbook. */
export const END_PLAY_NAME = 'IM contextualization end';

/**
 * The playbook of one ansible-playbook run: `plays` from index `from` on, each tagged with its index in
 * `plays` (`vars.im_ctxt_play`; `import_playbook` entries stay as they are), then the end play (index
 * `plays.length`), which starts only when Ansible did not end the playbook early.
 */
export function unitPlaybook(plays: Play[], from = 0): Play[] {
  const out: Play[] = [];
  for (const [i, p] of plays.entries()) {
    if (i < from) continue;
    out.push('import_playbook' in p ? p : { ...p, vars: { ...varsDict(p.vars), im_ctxt_play: i } });
  }
  out.push({ name: END_PLAY_NAME, hosts: 'all', gather_facts: false, vars: { im_ctxt_play: plays.length }, tasks: [] });
  return out;
}

export function dumpPlaybook(plays: Play[]): string {
  return dumpYaml(plays);
}
