/**
 * The private work folder of one contextualization run (mode 0700, files 0600, removed at the end):
 *
 *   ansible.cfg            (playbooks.ts ansibleCfg)
 *   callback_plugins/      the im_jsonl stdout callback
 *   hosts.yml              the inventory (inventory.ts), rewritten when credentials change
 *   keys/                  private keys, jump host passwords, vault passwords
 *   facts/                 Ansible's fact cache (jsonfile): facts are gathered once per run
 *   cp/                    the SSH master sockets (ssh-mux.ts); elsewhere when the path would be too long
 *   tmp/, roles/, collections/, requirements.yml, run<N>.yml (one playbook per ansible-playbook run)
 *
 * The environment of every Ansible command points at this folder's ansible.cfg; inherited ANSIBLE_*
 * variables are dropped so that none overrides it.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { UTILS_TASKS } from '#runner/utils-tasks';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CALLBACK_PLUGIN_NAME, CALLBACK_PLUGIN_SOURCE } from '#runner/callback-plugin';
import type { FileToWrite } from '#runner/inventory';
import { ansibleCfg, dumpPlaybook, type Play } from '#runner/playbooks';
import { closeMasters, registerControlDir } from '#runner/ssh-mux';

export interface WorkspaceOptions {
  /** Parent folder (default: env IM_CTXT_WORK_ROOT, else the OS temp folder). */
  root?: string;
  /** Ansible forks (at least 5). */
  forks: number;
  /** SSH connection timeout, seconds. */
  sshTimeout: number;
  /** ControlPersist of the SSH masters, seconds. */
  controlPersist: number;
}

/** sun_path holds 108 bytes; Ansible's socket names are 10 characters. */
const MAX_CONTROL_DIR = 90;

export class Workspace {
  readonly dir: string;
  readonly controlDir: string;
  private readonly ownControlDir: boolean;
  private seq = 0;

  private constructor(dir: string, controlDir: string, ownControlDir: boolean) {
    this.dir = dir;
    this.controlDir = controlDir;
    this.ownControlDir = ownControlDir;
  }

  /** Creates the folder with ansible.cfg and the callback plugin. */
  static create(o: WorkspaceOptions): Workspace {
    const root = o.root ?? process.env.IM_CTXT_WORK_ROOT ?? tmpdir();
    mkdirSync(root, { recursive: true });
    const dir = mkdtempSync(join(root, 'im-ctxt-'));
    chmodSync(dir, 0o700);
    for (const d of ['facts', 'tmp', 'roles', 'collections', 'keys', 'callback_plugins']) mkdirSync(join(dir, d), { mode: 0o700 });
    let controlDir = join(dir, 'cp');
    const own = controlDir.length > MAX_CONTROL_DIR;
    if (own) controlDir = mkdtempSync(join(tmpdir().length < 60 ? tmpdir() : '/tmp', 'imcp-'));
    else mkdirSync(controlDir, { mode: 0o700 });
    chmodSync(controlDir, 0o700);
    registerControlDir(controlDir);
    const ws = new Workspace(dir, controlDir, own);
    ws.write([
      { path: join(dir, 'callback_plugins', `${CALLBACK_PLUGIN_NAME}.py`), content: CALLBACK_PLUGIN_SOURCE, mode: 0o600 },
      {
        path: join(dir, 'ansible.cfg'),
        content: ansibleCfg({
          workDir: dir,
          forks: o.forks,
          timeout: o.sshTimeout,
          callbackDir: join(dir, 'callback_plugins'),
          callbackName: CALLBACK_PLUGIN_NAME,
          controlPathDir: controlDir,
          controlPersist: o.controlPersist,
        }),
        mode: 0o600,
      },
      // utils/tasks/… files that TOSCA recipes include (as IM's contextualization ships them).
      ...Object.entries(UTILS_TASKS).map(([name, content]) => ({ path: join(dir, 'utils', 'tasks', name), content, mode: 0o600 })),
    ]);
    return ws;
  }

  get inventoryPath(): string {
    return join(this.dir, 'hosts.yml');
  }

  get keyDir(): string {
    return join(this.dir, 'keys');
  }

  /** Writes files (folders 0700, each file with its own mode). */
  write(files: FileToWrite[]): void {
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
      writeFileSync(f.path, f.content, { mode: f.mode });
      chmodSync(f.path, f.mode);
    }
  }

  /** The inventory and the key / password files it refers to. */
  writeInventory(yaml: string, files: FileToWrite[]): void {
    this.write([...files, { path: this.inventoryPath, content: yaml, mode: 0o600 }]);
  }

  /** A playbook for one ansible-playbook run; returns its path. */
  writePlaybook(plays: Play[]): string {
    const path = join(this.dir, `run${this.seq++}.yml`);
    this.write([{ path, content: dumpPlaybook(plays), mode: 0o600 }]);
    return path;
  }

  /** A secret file in keys/ (vault password…); returns its path. */
  writeSecret(name: string, content: string): string {
    const path = join(this.keyDir, name);
    this.write([{ path, content, mode: 0o600 }]);
    return path;
  }

  /** The environment of ansible-playbook / ansible-galaxy. */
  env(): NodeJS.ProcessEnv {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ANSIBLE_')));
    return {
      ...inherited,
      ANSIBLE_CONFIG: join(this.dir, 'ansible.cfg'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      PYTHONUNBUFFERED: '1',
      ANSIBLE_LOCAL_TEMP: join(this.dir, 'tmp'),
    };
  }

  /** Closes the run's SSH masters, then removes the folder (unless `keep`). */
  async dispose(keep = false): Promise<void> {
    await closeMasters(this.controlDir);
    if (this.ownControlDir) rmSync(this.controlDir, { recursive: true, force: true });
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }
}
