import { describe, expect, it } from 'vitest';
import { AnsibleOutputParser, banner, type HostChunk } from '#runner/ansible-output';

const ev = (o: Record<string, unknown>) => JSON.stringify(o);

function feed(p: AnsibleOutputParser, lines: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of lines) for (const c of p.line(l) as HostChunk[]) out.set(c.host, (out.get(c.host) ?? '') + c.text);
  return out;
}

describe('AnsibleOutputParser', () => {
  it('splits the output per host with Ansible-like banners and Launch task lines', () => {
    const p = new AnsibleOutputParser(() => 'TS');
    const out = feed(p, [
      ev({ event: 'play', name: 'conf_wn', task: 'conf_wn' }),
      ev({ event: 'task', name: 'install' }),
      ev({ event: 'result', status: 'changed', host: 'a_1', task: 'install' }),
      ev({ event: 'result', status: 'failed', host: 'b_2', task: 'install', detail: '{"msg": "boom"}' }),
      ev({ event: 'task', name: 'loop' }),
      ev({ event: 'item', status: 'ok', host: 'a_1', task: 'loop', item: '"x"' }),
      ev({ event: 'result', status: 'ok', host: 'a_1', task: 'loop' }),
      ev({ event: 'stats', hosts: { a_1: { ok: 2, changed: 1 }, b_2: { failures: 1 } } }),
    ]);
    expect(out.get('a_1')).toBe(
      'TS: Launch task: conf_wn\n\n' +
        `${banner('PLAY [conf_wn]')}\n\n${banner('TASK [install]')}\nchanged: [a_1]\n\n` +
        `${banner('TASK [loop]')}\nok: [a_1] => (item="x")\nok: [a_1]\n` +
        `\n${banner('PLAY RECAP')}\na_1 : ok=2 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0\n\n`,
    );
    expect(out.get('b_2')).toContain('fatal: [b_2]: FAILED! => {"msg": "boom"}');
    expect(out.get('b_2')).not.toContain('TASK [loop]');
    expect(p.succeeded('a_1')).toBe(true);
    expect(p.succeeded('b_2')).toBe(false);
    expect(p.lastTask('b_2')).toBe('conf_wn');
    expect(banner('TASK [install]')).toMatch(/^TASK \[install\] \*{3,}$/);
    expect(banner('TASK [install]')).toHaveLength(80);
  });

  it('ignored failures and rescued hosts succeed; unreachable fails; no stats = failed', () => {
    const p = new AnsibleOutputParser(() => 'TS');
    const out = feed(p, [
      ev({ event: 'play', name: 'p' }),
      ev({ event: 'task', name: 't' }),
      ev({ event: 'result', status: 'failed', host: 'a', task: 't', ignored: true, detail: '{}' }),
      ev({ event: 'result', status: 'unreachable', host: 'u', task: 't', detail: '{"msg": "no route"}' }),
    ]);
    expect(out.get('a')).toContain('...ignoring');
    expect(out.get('a')).not.toContain('Launch task');
    expect(out.get('u')).toContain('fatal: [u]: UNREACHABLE! => {"msg": "no route"}');
    expect(p.succeeded('a')).toBe(false);
    feed(p, [ev({ event: 'stats', hosts: { a: { ok: 1, ignored: 1 }, u: { unreachable: 1 } } })]);
    expect(p.succeeded('a')).toBe(true);
    expect(p.succeeded('u')).toBe(false);
    expect(p.succeeded('not-in-play')).toBe(true);
  });

  it('writes the banners when a host starts a task, before its result', () => {
    const p = new AnsibleOutputParser(() => 'TS');
    feed(p, [ev({ event: 'play', name: 'c_s', task: 'c_s' }), ev({ event: 'task', name: 'slow' })]);
    expect(p.line(ev({ event: 'start', host: 'h', task: 'slow' }))).toEqual([{ host: 'h', text: `TS: Launch task: c_s\n\n${banner('PLAY [c_s]')}\n\n${banner('TASK [slow]')}\n` }]);
    expect(p.line(ev({ event: 'result', status: 'ok', host: 'h', task: 'slow' }))).toEqual([{ host: 'h', text: 'ok: [h]\n' }]);
    expect(p.line(ev({ event: 'start', host: 'h', task: 'slow' }))).toEqual([]);
  });

  it('passes other lines to every host of the run', () => {
    const p = new AnsibleOutputParser(() => 'TS');
    expect(p.line('ERROR! the playbook could not be parsed')).toEqual([{ host: '*', text: 'ERROR! the playbook could not be parsed\n' }]);
    expect(p.line('')).toEqual([]);
    expect(p.line(ev({ event: 'warning', msg: 'w' }))).toEqual([{ host: '*', text: '[WARNING]: w\n' }]);
  });

  it('strategy free: each result goes under its own task, whatever task another host started since', () => {
    const p = new AnsibleOutputParser(() => 'TS');
    const out = feed(p, [
      ev({ event: 'play', name: 'basic', task: 'basic', index: 0 }),
      ev({ event: 'task', name: 'one', uuid: 'u1' }),
      ev({ event: 'start', host: 'a', task: 'one', uuid: 'u1' }),
      ev({ event: 'task', name: 'one', uuid: 'u1' }),
      ev({ event: 'start', host: 'b', task: 'one', uuid: 'u1' }),
      ev({ event: 'result', status: 'ok', host: 'a', task: 'one', uuid: 'u1' }),
      ev({ event: 'task', name: 'two', uuid: 'u2' }),
      ev({ event: 'start', host: 'a', task: 'two', uuid: 'u2' }),
      ev({ event: 'result', status: 'changed', host: 'b', task: 'one', uuid: 'u1' }),
      ev({ event: 'result', status: 'ok', host: 'a', task: 'two', uuid: 'u2' }),
      ev({ event: 'task', name: 'two', uuid: 'u2' }),
      ev({ event: 'result', status: 'failed', host: 'b', task: 'two', uuid: 'u2', detail: '{}' }),
      ev({ event: 'play', name: 'end', task: null, index: 2 }),
    ]);
    expect(out.get('b')).toBe(
      `TS: Launch task: basic\n\n${banner('PLAY [basic]')}\n\n${banner('TASK [one]')}\nchanged: [b]\n\n${banner('TASK [two]')}\nfatal: [b]: FAILED! => {}\n`,
    );
    expect(out.get('a')).toBe(`TS: Launch task: basic\n\n${banner('PLAY [basic]')}\n\n${banner('TASK [one]')}\nok: [a]\n\n${banner('TASK [two]')}\nok: [a]\n`);
    expect(p.playIndexes).toEqual([0, 2]);
    expect(p.reached(2)).toBe(true);
    expect(p.reached(1)).toBe(false);
    expect(p.failedHost('b')).toBe(true);
    expect(p.failedHost('a')).toBe(false);
  });
});
