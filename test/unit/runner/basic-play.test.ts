import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { basicPlays, bootstrapScript, etcHostsBlock, packageName, sshRetriesFor } from '#runner/basic-play';
import { Tagged } from '#runner/yaml';
import { node } from './helpers.ts';

type Task = Record<string, unknown>;
type Play = Record<string, unknown> & { tasks?: Task[] };

const master = node(0, 'front', '8.8.8.8', {
  features: ["disk.0.os.credentials.new.password = 'New-1!aa'", "disk.0.applications contains (name = 'nginx')", "disk.0.applications contains (name = 'ansible.roles.geerlingguy.mysql')"],
});
const wn = node(1, 'wn', '10.0.0.1', {
  priv: true,
  features: ["disk.0.os.credentials.new.public_key = 'ssh-ed25519 AAA'", "disk.0.os.credentials.new.private_key = 'K'", "net_interface.0.dns_name = 'w#N#.cluster'"],
});
const wn2 = node(2, 'wn', '10.0.0.2', { priv: true });
const hostNames = new Map([
  [0, '8.8.8.8_0'],
  [1, '10.0.0.1_1'],
  [2, '10.0.0.2_2'],
]);
const input = { nodes: [master, wn, wn2], allNodes: [master, wn, wn2], hostNames, masterVmId: 0, infId: 'inf-9', remoteConfDir: '/var/tmp/.im', sshWaitTimeout: 30 };
const plays = basicPlays(input) as Play[];
const script = (t: Task) => String(t.raw);

describe('basicPlays', () => {
  it('has the basic play (free strategy), main_<system>, the keys play, then the master credentials', () => {
    expect(plays.map((p) => [p.name, p.hosts, p.strategy ?? 'linear'])).toEqual([
      ['basic', '8.8.8.8_0,10.0.0.1_1,10.0.0.2_2', 'free'],
      ['main_front', '8.8.8.8_0', 'free'],
      ['Authorize the master key and change the credentials', '8.8.8.8_0,10.0.0.1_1,10.0.0.2_2', 'free'],
      ['Change the credentials of the master VM', '8.8.8.8_0', 'linear'],
    ]);
    for (const p of plays) {
      expect(p).toMatchObject({ gather_facts: false, become: true });
      expect((p.vars as Record<string, unknown>).im_ctxt_task).toMatch(/^(basic|main_front)$/);
    }
    expect(plays[0].vars).toEqual({ im_ctxt_task: 'basic', im_master_host: '8.8.8.8_0' });
  });

  it('bootstraps Python with raw before gathering facts, retrying the first SSH connection', () => {
    const tasks = plays[0].tasks ?? [];
    expect(tasks.map((t) => t.name)).toEqual([
      'Bootstrap Python and wait for the package manager',
      'Gather facts',
      'Set SELinux to permissive',
      'Set the hostname of the node',
      'Add the nodes of the infrastructure to /etc/hosts',
      'Create the SSH key of the master VM',
      'Remember the public key of the master VM',
    ]);
    expect(tasks[0]).toMatchObject({ args: { executable: '/bin/sh' }, vars: { ansible_ssh_retries: sshRetriesFor(30) } });
    expect(script(tasks[0])).toContain('apt-get install -y -q python3');
    expect(tasks[1]).toEqual({ name: 'Gather facts', setup: {} });
    expect(tasks[2].when).toContain("ansible_selinux.status | default('') == 'enabled'");
    expect(script(tasks[2])).toContain('setenforce 0');
    expect(script(tasks[2])).toContain('SELINUX=permissive');
    expect(script(tasks[3])).toMatch(/^IM_FQDN=\{\{ IM_NODE_FQDN \| quote \}\}\n/);
    expect(script(tasks[3])).toContain('hostname "$N"');
    expect(script(tasks[4])).toMatch(/^IM_BLOCK=\{\{ im_hosts_block \| quote \}\}\n/);
    const block = (tasks[4].vars as Record<string, unknown>).im_hosts_block as Tagged;
    expect(block.tag).toBe('!unsafe');
    expect(block.value).toBe('8.8.8.8 vnode-0.localdomain vnode-0\n10.0.0.1 w1.cluster w1\n10.0.0.2 vnode-2.localdomain vnode-2');
    expect(tasks[5]).toMatchObject({ when: 'inventory_hostname == im_master_host', vars: { im_key_dir: new Tagged('!unsafe', '/var/tmp/.im/inf-9') } });
    expect(script(tasks[5])).toMatch(/^IM_DIR=\{\{ im_key_dir \| quote \}\}\nIM_USER=\{\{ ansible_user \| quote \}\}\n/);
    expect(script(tasks[5])).toContain('ssh-keygen');
  });

  it('runs its own steps as raw commands (no Python module), with no Jinja but the quoted variables', () => {
    const raws = plays.flatMap((p) => p.tasks ?? []).filter((t) => 'raw' in t);
    expect(raws.map((t) => t.name)).toEqual([
      'Bootstrap Python and wait for the package manager',
      'Set SELinux to permissive',
      'Set the hostname of the node',
      'Add the nodes of the infrastructure to /etc/hosts',
      'Create the SSH key of the master VM',
      "Authorize the master VM's public key",
      'Authorize the new public key',
      'Authorize the new public key',
    ]);
    for (const t of raws) {
      const body = script(t).replace(/^\w+=\{\{ [\w.[\]]+ \| quote \}\}\n/gm, '');
      expect(body, String(t.name)).not.toMatch(/\{\{|\{%|\{#/);
    }
  });

  it("puts the master's public key on every node, changes the others' credentials first and the master's last", () => {
    const keys = plays[2].tasks ?? [];
    expect(keys.map((t) => t.name)).toEqual(["Authorize the master VM's public key", 'Change the password of the user', 'Authorize the new public key']);
    expect(keys[0]).toMatchObject({ become: false });
    expect(script(keys[0])).toMatch(/^IM_KEY=\{\{ hostvars\[im_master_host\]\.im_master_pubkey \| quote \}\}\n/);
    expect(keys[1]).toMatchObject({ command: 'chpasswd', no_log: true, when: ['im_ctxt_new_password is defined', 'inventory_hostname != (im_master_host | default(""))'] });
    const last = plays[3].tasks ?? [];
    expect(last[0]).toMatchObject({ command: 'chpasswd', when: 'im_ctxt_new_password is defined' });
  });

  it('installs applications per system (not Ansible roles)', () => {
    expect(plays[1].tasks).toEqual([{ name: 'Install nginx', package: { name: 'nginx', state: 'present' }, ignore_errors: true }]);
  });

  it('without a master VM among the nodes: no key tasks; no plays without nodes', () => {
    const p = basicPlays({ ...input, nodes: [wn2], masterVmId: 0 }) as Play[];
    expect(p.map((x) => x.name)).toEqual(['basic']);
    expect((p[0].tasks ?? []).map((t) => t.name)).not.toContain('Create the SSH key of the master VM');
    expect(basicPlays({ ...input, nodes: [] })).toEqual([]);
  });

  it('SSH retries cover the wait with Ansible back-off', () => {
    expect(sshRetriesFor(0)).toBe(0);
    expect(sshRetriesFor(5)).toBe(4); // 0 + 1 + 3 + 7 s
    expect(sshRetriesFor(300)).toBe(15);
  });

  it('helpers: /etc/hosts block and package names', () => {
    expect(etcHostsBlock([node(3, 's', '1.2.3.4', { features: ["net_interface.0.dns_name = 'solo'"] })])).toBe('1.2.3.4 solo.localdomain solo');
    expect(packageName({ name: 'nginx' })).toBe('nginx');
    expect(packageName({ name: 'gmetad.ganglia' })).toBe('ganglia');
    expect(packageName({ name: 'nginx', preinstalled: true })).toBeUndefined();
    expect(packageName({ name: 'ansible.roles.x' })).toBeUndefined();
  });
});

describe('the /etc/hosts task (its script run here with sh on a copy)', () => {
  it('replaces the IM block where it is (or adds it), keeps the rest, and changes nothing the second time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imt-hosts-'));
    try {
      const file = join(dir, 'hosts');
      writeFileSync(file, '127.0.0.1 localhost\n# BEGIN IM managed block: nodes of the infrastructure\n1.1.1.1 old\n# END IM managed block: nodes of the infrastructure\n::1 ip6\n');
      const task = (basicPlays(input) as Play[])[0].tasks?.find((t) => t.name === 'Add the nodes of the infrastructure to /etc/hosts') as Task;
      const body = String(task.raw).replace(/^IM_BLOCK=.*\n/, '').replaceAll('/etc/hosts', file);
      const env = { ...process.env, IM_BLOCK: "10.0.0.1 a.b a\n10.0.0.2 c'd c" };
      const first = spawnSync('sh', ['-c', body], { encoding: 'utf8', env });
      expect(first.status).toBe(0);
      expect(first.stdout).toContain('IM_CHANGED');
      expect(readFileSync(file, 'utf8')).toBe(
        "127.0.0.1 localhost\n# BEGIN IM managed block: nodes of the infrastructure\n10.0.0.1 a.b a\n10.0.0.2 c'd c\n# END IM managed block: nodes of the infrastructure\n::1 ip6\n",
      );
      expect(spawnSync('sh', ['-c', body], { encoding: 'utf8', env }).stdout).not.toContain('IM_CHANGED');
      writeFileSync(file, '127.0.0.1 localhost\n');
      spawnSync('sh', ['-c', body], { encoding: 'utf8', env });
      expect(readFileSync(file, 'utf8')).toBe(
        "127.0.0.1 localhost\n# BEGIN IM managed block: nodes of the infrastructure\n10.0.0.1 a.b a\n10.0.0.2 c'd c\n# END IM managed block: nodes of the infrastructure\n",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the bootstrap script (run here with sh)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imt-boot-'));
  const lock = join(dir, 'lock');
  writeFileSync(lock, '');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const hasFlock = spawnSync('sh', ['-c', 'command -v flock']).status === 0;

  it('is valid sh and does nothing where Python is there and no package manager runs', () => {
    const r = spawnSync('sh', ['-c', bootstrapScript(0, [lock])], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('IM_CHANGED');
    expect(r.stdout).not.toContain('Waiting');
  });

  it('on an image without Python, installs python3 with the package manager it finds', () => {
    // A PATH with the few tools the script needs, no python, and an apt-get that records its arguments
    // and "installs" python3 (a link to sh).
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    for (const tool of ['stat', 'grep', 'cat', 'sleep', 'sh', 'ln']) {
      const where = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
      symlinkSync(where, join(bin, tool));
    }
    writeFileSync(join(bin, 'apt-get'), `#!${join(bin, 'sh')}\necho "$*" >> ${join(dir, 'apt.log')}\nln -sf ${join(bin, 'sh')} ${join(bin, 'python3')}\n`, { mode: 0o755 });
    const r = spawnSync(join(bin, 'sh'), ['-c', bootstrapScript(0, [lock])], { encoding: 'utf8', env: { PATH: bin } });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('No Python on this image: installing python3.');
    expect(r.stdout).toContain('IM_CHANGED');
    expect(readFileSync(join(dir, 'apt.log'), 'utf8')).toBe('install -y -q python3\n');
    // Python there now: nothing to do.
    expect(spawnSync(join(bin, 'sh'), ['-c', bootstrapScript(0, [lock])], { encoding: 'utf8', env: { PATH: bin } }).stdout).not.toContain('IM_CHANGED');
  });

  it.skipIf(!hasFlock)('waits while a lock file is held, then goes on', async () => {
    const holder = spawn('flock', [lock, 'sleep', '3'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    const t = Date.now();
    const r = spawnSync('sh', ['-c', bootstrapScript(60, [lock])], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Waiting for the package manager to finish.');
    expect(Date.now() - t).toBeGreaterThanOrEqual(1500);
    const held = spawn('flock', [lock, 'sleep', '5'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    const gaveUp = spawnSync('sh', ['-c', bootstrapScript(2, [lock])], { encoding: 'utf8' });
    expect(gaveUp.stdout).toContain('The package manager is still busy after 2 s: going on.');
    holder.kill();
    held.kill();
  }, 20_000);
});
