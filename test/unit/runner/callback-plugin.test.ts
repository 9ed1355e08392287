/**
 * The callback plugin is valid Python, and (when ansible-playbook is installed) its output, run through
 * AnsibleOutputParser, gives the per-host text and results (local connection, no SSH).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AnsibleOutputParser } from '#runner/ansible-output';
import { CALLBACK_PLUGIN_NAME, CALLBACK_PLUGIN_SOURCE } from '#runner/callback-plugin';

const dir = mkdtempSync(join(tmpdir(), 'imt-cb-'));
mkdirSync(join(dir, 'cb'));
writeFileSync(join(dir, 'cb', `${CALLBACK_PLUGIN_NAME}.py`), CALLBACK_PLUGIN_SOURCE);
const hasPython = spawnSync('python3', ['--version']).status === 0;
const hasAnsible = spawnSync('sh', ['-c', 'command -v ansible-playbook']).status === 0;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('im_jsonl callback plugin', () => {
  it.skipIf(!hasPython)('compiles', () => {
    const r = spawnSync('python3', ['-m', 'py_compile', join(dir, 'cb', `${CALLBACK_PLUGIN_NAME}.py`)], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!hasAnsible)('emits JSON lines the parser turns into per-host logs', () => {
    writeFileSync(
      join(dir, 'pb.yml'),
      `- hosts: all
  gather_facts: false
  vars: { im_ctxt_task: conf_sys }
  tasks:
    - name: say hi
      debug: msg=hi
    - name: loop
      command: "echo {{ item }}"
      loop: [a, b]
    - name: secret
      command: "echo {{ p }}"
      vars: { p: top-secret }
      no_log: true
    - name: ignored failure
      command: /bin/false
      ignore_errors: true
    - name: real failure
      fail: msg=boom
`,
    );
    const r = spawnSync('ansible-playbook', ['-i', 'h1,', '-c', 'local', join(dir, 'pb.yml')], {
      encoding: 'utf8',
      env: { ...process.env, ANSIBLE_STDOUT_CALLBACK: CALLBACK_PLUGIN_NAME, ANSIBLE_CALLBACK_PLUGINS: join(dir, 'cb'), ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'), ANSIBLE_NOCOLOR: '1' },
      timeout: 120_000,
    });
    expect(r.status).toBe(2);
    const p = new AnsibleOutputParser(() => 'TS');
    let text = '';
    for (const line of r.stdout.split('\n')) for (const c of p.line(line)) text += c.text;
    expect(text).toContain('TS: Launch task: conf_sys');
    expect(text).toMatch(/TASK \[say hi\] \*+\nok: \[h1\] => \{/);
    expect(text).toContain('"msg": "hi"');
    expect(text).toContain('changed: [h1] => (item="a")');
    expect(text).not.toContain('top-secret');
    expect(text).toContain('...ignoring');
    expect(text).toMatch(/fatal: \[h1\]: FAILED! => \{.*"msg": "boom"/);
    expect(text).toContain('h1 : ok=4 changed=3 unreachable=0 failed=1 skipped=0 rescued=0 ignored=1');
    expect(p.succeeded('h1')).toBe(false);
  }, 120_000);
});
