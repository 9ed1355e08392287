/**
 * The SSH test hosts themselves: reachable over SSH (password and key), isolated from the real machine
 * and from each other (/tmp, /etc/hosts, hostname), and nothing left behind after destroy().
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname as realHostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSshHosts, leftovers, processRunning, sshHostsUnsupportedReason, type SshHost, type SshHosts } from './helpers/ssh-hosts.ts';

const unsupported = sshHostsUnsupportedReason();
if (unsupported) console.warn(`SKIPPED e2e SSH host tests: ${unsupported}`);

function ssh(host: SshHost, cmd: string, auth: 'password' | 'key', keyFile?: string): Promise<{ code: number; out: string }> {
  const base = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5'];
  const args =
    auth === 'password'
      ? ['-e', 'ssh', ...base, '-o', 'PubkeyAuthentication=no', `${host.user}@${host.ip}`, cmd]
      : [...base, '-o', 'PasswordAuthentication=no', '-o', 'BatchMode=yes', '-i', keyFile ?? '', `${host.user}@${host.ip}`, cmd];
  return new Promise((resolve, reject) => {
    const child = spawn(auth === 'password' ? 'sshpass' : 'ssh', args, {
      env: { ...process.env, SSHPASS: host.password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe.skipIf(!!unsupported)('SSH test hosts (network namespaces)', () => {
  let set: SshHosts | undefined;
  let keyDir = '';

  beforeAll(async () => {
    set = await createSshHosts(2);
    keyDir = mkdtempSync(join(tmpdir(), 'imt-key-'));
    writeFileSync(join(keyDir, 'id'), set.hosts[0].privateKey ?? '', { mode: 0o600 });
  });

  afterAll(async () => {
    await set?.destroy();
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
  });

  it('answers SSH with its own hostname (password and key auth)', async () => {
    const s = set as SshHosts;
    for (const h of s.hosts) {
      const r = await ssh(h, 'hostname', 'password');
      expect(r.code, r.out).toBe(0);
      expect(r.out.trim()).toBe(h.name);
      const k = await ssh(h, 'hostname && sudo -n true && echo sudo-ok', 'key', join(keyDir, 'id'));
      expect(k.code, k.out).toBe(0);
      expect(k.out).toContain(h.name);
      expect(k.out).toContain('sudo-ok');
    }
    expect(s.hosts[0].name).not.toBe(realHostname());
    expect(s.hosts[0].ip).not.toBe(s.hosts[1].ip);
  });

  it('does not share /tmp, /etc/hosts or the hostname with the real machine or the other host', async () => {
    const s = set as SshHosts;
    const [a, b] = s.hosts;
    const realHosts = readFileSync('/etc/hosts', 'utf8');
    const marker = `imt-marker-${process.pid}`;

    // Write over SSH into host a: /tmp and (as root through sudo) /etc/hosts.
    const w = await ssh(a, `echo ${marker} > /tmp/marker && echo '10.9.9.9 ${marker}' | sudo tee -a /etc/hosts >/dev/null && sudo hostname ${marker}`, 'password');
    expect(w.code, w.out).toBe(0);

    expect(await s.readFile(a, '/tmp/marker')).toBe(`${marker}\n`);
    expect(await s.readFile(a, '/etc/hosts')).toContain(marker);
    expect((await s.exec(a, 'hostname')).stdout.trim()).toBe(marker);

    // Not on the real machine…
    expect(() => readFileSync('/tmp/marker', 'utf8')).toThrow();
    expect(readFileSync('/etc/hosts', 'utf8')).toBe(realHosts);
    expect(realHostname()).not.toBe(marker);
    // …nor on the other host.
    await expect(s.readFile(b, '/tmp/marker')).rejects.toThrow();
    expect(await s.readFile(b, '/etc/hosts')).not.toContain(marker);
    expect((await s.exec(b, 'hostname')).stdout.trim()).toBe(b.name);
    // The real /tmp is not visible inside either.
    const probe = join('/tmp', `imt-real-${process.pid}`);
    writeFileSync(probe, 'x');
    try {
      expect((await s.exec(b, `test -e ${probe} && echo yes || echo no`)).stdout.trim()).toBe('no');
    } finally {
      rmSync(probe, { force: true });
    }
  });

  it('hosts reach each other on the bridge, and destroy() leaves nothing behind', async () => {
    const s = set as SshHosts;
    const [a, b] = s.hosts;
    const r = await s.exec(a, `bash -c 'exec 3<>/dev/tcp/${b.ip}/22 && head -c 7 <&3' 2>&1`);
    expect(r.stdout).toContain('SSH-2.0');
    const pids = s.hosts.map((h) => h.sshdPid);
    await s.destroy();
    const left = leftovers();
    expect(left.netns).toEqual([]);
    expect(left.pids).toEqual([]);
    expect(left.links).toEqual([]);
    for (const pid of pids) expect(processRunning(pid)).toBe(false);
    set = undefined;
  });
});
