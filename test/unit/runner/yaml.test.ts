import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dumpYaml, loadYaml, Tagged, unsafe } from '#runner/yaml';

/** PyYAML (what Ansible parses with), when the system Python has it. */
const PY = ['/usr/bin/python3', 'python3'].find((p) => (p.startsWith('/') ? existsSync(p) : true) && spawnSync(p, ['-c', 'import yaml']).status === 0);

function pyLoad(text: string): unknown {
  const r = spawnSync(PY as string, ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read()), default=str))'], { input: text, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

describe('YAML 1.1 semantics (as Ansible reads it)', () => {
  const SRC = "a: yes\nb: no\nc: 0644\nd: 1e3\ne: 1_000\nf: 1.5\ng: '0644'\nh: 'yes'\ni: ~\nj: 0x1F\nk: 1:30\nq: on\nr: y\nbig: 123456789012345678901234\n";

  it('loads plain scalars like PyYAML', () => {
    expect(loadYaml(SRC)).toMatchObject({ a: true, b: false, c: 420, d: '1e3', e: 1000, f: 1.5, g: '0644', h: 'yes', i: null, j: 31, k: 90, q: true, r: 'y' });
  });

  it('dumps so that PyYAML reads back the same values', () => {
    const v = { ...(loadYaml(SRC) as object), s1: 'true', s2: '12', s3: 'a: b', s4: 'no', n1: 1e21, n2: 1e-7, n3: 2.5, n4: -3 };
    const text = dumpYaml(v);
    expect(loadYaml(text)).toEqual(v);
    if (PY) {
      const py = pyLoad(text) as Record<string, unknown>;
      expect(py).toMatchObject({ a: true, c: 420, d: '1e3', g: '0644', h: 'yes', s1: 'true', s2: '12', s4: 'no', n2: 1e-7, n3: 2.5, n4: -3 });
      expect(String(py.n1)).toMatch(/^1(\.0)?e\+?21$|^1000000000000000000000$/);
    }
  });

  it('round-trips !unsafe and !vault', () => {
    const text = dumpYaml({ p: unsafe("a'b{{c}}\nline2"), v: new Tagged('!vault', '$ANSIBLE_VAULT;1.1;AES256\n3131\n') });
    expect(text).toContain('p: !unsafe');
    expect(text).toContain('v: !vault |');
    expect(loadYaml(text)).toEqual({ p: unsafe("a'b{{c}}\nline2"), v: new Tagged('!vault', '$ANSIBLE_VAULT;1.1;AES256\n3131\n') });
  });
});
