import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRadl, parseRadlJson, radlToJson } from '#radl/index';
import { ALL_FIXTURES, canon } from './helpers.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'radl-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run bin/radl.ts with node + tsx (what `npm run radl` does, minus npm's start-up). */
function radl(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'bin/radl.ts', ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(stdin ?? '');
  });
}

const fixture = (name: string): string => ALL_FIXTURES.find((f) => f.name.endsWith(name))!.path;

describe('bin/radl.ts', () => {
  it('npm run --silent radl -- check FILE prints ok', () => {
    const r = spawnSync('npm', ['run', '--silent', 'radl', '--', 'check', fixture('slurm.radl')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('ok\n');
  });

  it('check, to-json and to-radl on files; to-radl accepts JSON; stdin with -', async () => {
    const text = ALL_FIXTURES.find((f) => f.name.endsWith('kubernetes.radl'))!.text;
    const jsonFile = join(tmp, 'k.json');
    const [check, toJson, toRadlStdin] = await Promise.all([
      radl(['check', fixture('kubernetes.radl')]),
      radl(['to-json', fixture('kubernetes.radl')]),
      radl(['to-radl', '-'], text),
    ]);
    expect(check).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
    expect(toJson.code).toBe(0);
    expect(toJson.stdout).toMatch(/^\[\n {2}\{\n/); // pretty-printed
    expect(JSON.parse(toJson.stdout)).toEqual(radlToJson(parseRadl(text)));
    expect(toRadlStdin.code).toBe(0);
    expect(canon(parseRadl(toRadlStdin.stdout))).toEqual(canon(parseRadl(text)));

    writeFileSync(jsonFile, toJson.stdout);
    const [fromJson, checkStdin] = await Promise.all([radl(['to-radl', jsonFile]), radl(['check', '-'], toJson.stdout)]);
    expect(fromJson.code).toBe(0);
    expect(canon(parseRadl(fromJson.stdout))).toEqual(canon(parseRadlJson(toJson.stdout)));
    expect(checkStdin).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
  });

  it('invalid input: exit 1, the message on stderr, no stack trace', async () => {
    const bad = join(tmp, 'bad.radl');
    writeFileSync(bad, 'network n ()\nsystem s ( disk.0.os.name = "linux" )\n');
    const [parse, gluster, oscar, toJson, json] = await Promise.all([
      radl(['check', bad]),
      radl(['check', fixture('glusterfs.radl')]),
      radl(['to-radl', fixture('oscar.radl')]),
      radl(['to-json', '-'], 'system s ( cpu.count >= 4 and cpu.count <= 2 )'),
      radl(['check', '-'], '[{"class": "system"}]'),
    ]);
    expect(parse).toEqual({
      code: 1,
      stdout: '',
      stderr: "line 2, column 29: unexpected character '\"' (strings use single quotes, e.g. 'value')\n",
    });
    expect(gluster.code).toBe(1);
    expect(gluster.stderr).toBe(
      "line 11, column 1: Conflict adding feature net_interface.0.dns_name = 'glusterfe': it is already defined as net_interface.0.dns_name = 'wn-#N#' (line 9)\n",
    );
    expect(oscar).toEqual({
      code: 1,
      stdout: '',
      stderr: "Line 23: Invalid system id in the deploy. (deploy test: there is no 'system test' section)\n",
    });
    expect(toJson.code).toBe(1);
    expect(toJson.stdout).toBe('');
    expect(toJson.stderr).toBe('line 1, column 31: Disjoint intervals!. Involved features: [cpu.count >= 4, cpu.count <= 2]\n');
    expect(json.code).toBe(1);
    expect(json.stderr).toBe('RADL-JSON item 0 (system): missing system id\n');
    for (const r of [parse, gluster, oscar, toJson, json]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('usage and I/O errors exit 2', async () => {
    const [none, unknown, missing, help] = await Promise.all([
      radl([]),
      radl(['lint', 'x']),
      radl(['check', join(tmp, 'missing.radl')]),
      radl(['--help']),
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^usage: radl <check\|to-json\|to-radl> FILE/);
    expect(unknown.code).toBe(2);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`radl: cannot read ${join(tmp, 'missing.radl')} (ENOENT)\n`);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage:/);
  });
});
