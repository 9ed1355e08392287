import { describe, expect, it } from 'vitest';
import { ansibleCfg, END_PLAY_NAME, galaxyRequirements, recipePlays, taskHeader, unitPlaybook } from '#runner/playbooks';
import { vaultEncrypt } from '#runner/vault';
import { Tagged } from '#runner/yaml';
import { node } from './helpers.ts';

describe('recipePlays (IM header merged into the recipe plays)', () => {
  const header = taskHeader('conf_wn', 'wn', 'linux');

  it('adds hosts, become, no fact gathering, the free strategy and the task marker to each play', () => {
    const plays = recipePlays('- tasks:\n  - debug: msg=hi\n- name: second\n  tasks: [ { command: "true" } ]\n', header);
    expect(plays).toEqual([
      { name: 'conf_wn', hosts: 'wn', gather_facts: false, strategy: 'free', become: true, vars: { im_ctxt_task: 'conf_wn' }, tasks: [{ debug: 'msg=hi' }] },
      { name: 'second', hosts: 'wn', gather_facts: false, strategy: 'free', become: true, vars: { im_ctxt_task: 'conf_wn' }, tasks: [{ command: 'true' }] },
    ]);
  });

  it('merges vars (dict or list), keeps the recipe values, the marker always wins', () => {
    const [p] = recipePlays('- become: no\n  strategy: linear\n  vars:\n    - a: 1\n    - im_ctxt_task: hijack\n  hosts: all\n  tasks: []\n', header);
    expect(p).toMatchObject({ become: false, hosts: 'all', strategy: 'linear', vars: { a: 1, im_ctxt_task: 'conf_wn' } });
  });

  it('a list of tasks becomes one play; a mapping is one play; import_playbook is kept', () => {
    expect(recipePlays('- debug: msg=a\n- debug: msg=b\n', header)[0].tasks).toEqual([{ debug: 'msg=a' }, { debug: 'msg=b' }]);
    expect(recipePlays('tasks: [ { debug: { msg: x } } ]\n', header)[0].hosts).toBe('wn');
    expect(recipePlays('- import_playbook: other.yml\n', header)).toEqual([{ import_playbook: 'other.yml' }]);
    expect(recipePlays('', header)).toEqual([]);
  });

  it('keeps !unsafe and !vault values; rejects bad YAML with IM text', () => {
    const [p] = recipePlays('- vars:\n    s: !unsafe "{{ x }}"\n    v: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      3131\n  tasks: []\n', header);
    const vars = p.vars as Record<string, unknown>;
    expect(vars.s).toEqual(new Tagged('!unsafe', '{{ x }}'));
    expect((vars.v as Tagged).tag).toBe('!vault');
    expect(() => recipePlays('- tasks: [ unclosed', header)).toThrow(/^Error parsing YAML: /);
    expect(() => recipePlays('just a string', header)).toThrow(/must be a list of plays/);
  });

  it('decrypts vault-encrypted recipes with the system vault.password', () => {
    const enc = vaultEncrypt('- tasks:\n  - debug: msg=secret\n', 'vpass');
    expect(recipePlays(enc, header, 'vpass')[0].tasks).toEqual([{ debug: 'msg=secret' }]);
    expect(() => recipePlays(enc, header)).toThrow(/vault.password/);
    expect(() => recipePlays(enc, header, 'wrong')).toThrow(/Decryption failed/);
  });

  it('Windows: no become', () => {
    expect(taskHeader('c_s', 's', 'windows').become).toBeUndefined();
  });
});

describe('unitPlaybook (one ansible-playbook run)', () => {
  const plays = [
    { name: 'a', hosts: 'front', vars: { im_ctxt_task: 's1_front' }, tasks: [] },
    { import_playbook: 'x.yml' },
    { name: 'b', hosts: 'wn', vars: [{ k: 1 }], tasks: [] },
  ];

  it('tags every play with its index and ends with an empty play on all hosts', () => {
    expect(unitPlaybook(plays)).toEqual([
      { name: 'a', hosts: 'front', vars: { im_ctxt_task: 's1_front', im_ctxt_play: 0 }, tasks: [] },
      { import_playbook: 'x.yml' },
      { name: 'b', hosts: 'wn', vars: { k: 1, im_ctxt_play: 2 }, tasks: [] },
      { name: END_PLAY_NAME, hosts: 'all', gather_facts: false, vars: { im_ctxt_play: 3 }, tasks: [] },
    ]);
  });

  it('goes on from a play, keeping the indexes', () => {
    expect(unitPlaybook(plays, 2).map((p) => (p.vars as Record<string, unknown>).im_ctxt_play)).toEqual([2, 3]);
  });
});

describe('helpers', () => {
  it('galaxy requirements, ansible.cfg (fact cache, pipelining, multiplexing)', () => {
    const n = node(0, 's', '1.1.1.1', {
      features: [
        "disk.0.applications contains (name = 'ansible.roles.geerlingguy.mysql,3.3.0')",
        "disk.0.applications contains (name = 'ansible.roles.https://github.com/x/y.git|yrole')",
        "disk.0.applications contains (name = 'ansible.collections.community.general' and version = '8.0.0')",
      ],
    });
    expect(galaxyRequirements([n])).toEqual({
      roles: [
        { src: 'geerlingguy.mysql', version: '3.3.0' },
        { src: 'https://github.com/x/y.git', name: 'yrole' },
      ],
      collections: [{ name: 'community.general', version: '8.0.0' }],
    });
    const cfg = ansibleCfg({ workDir: '/w', forks: 12, timeout: 20, callbackDir: '/w/cb', callbackName: 'im_jsonl', controlPathDir: '/w/cp', controlPersist: 30 });
    const lines = cfg.split('\n');
    for (const line of [
      'host_key_checking = False',
      'forks = 12',
      'timeout = 20',
      'gathering = smart',
      'fact_caching = jsonfile',
      'fact_caching_connection = /w/facts',
      'pipelining = True',
      'control_path_dir = /w/cp',
      'stdout_callback = im_jsonl',
    ]) {
      expect(lines).toContain(line);
    }
    const ssh = lines.find((l) => l.startsWith('ssh_args = ')) ?? '';
    expect(ssh).toContain('-o ControlMaster=auto -o ControlPersist=30s');
    expect(ssh).not.toContain('ControlPersist=no');
    expect(ansibleCfg({ workDir: '/w', forks: 1, timeout: 20, callbackDir: '/w/cb', callbackName: 'x', controlPathDir: '/w/cp', controlPersist: 0.2 })).toMatch(/forks = 5\n[\s\S]*ControlPersist=1s/);
  });
});
