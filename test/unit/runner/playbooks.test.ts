import { describe, expect, it } from 'vitest';
import { ansibleCfg, basicPlaybook, etcHostsBlock, galaxyRequirements, packageName, recipePlays, taskHeader } from '#runner/playbooks';
import { vaultEncrypt } from '#runner/vault';
import { loadYaml, Tagged } from '#runner/yaml';
import { node } from './helpers.ts';

type Play = Record<string, unknown> & { tasks?: Record<string, unknown>[] };

describe('recipePlays (IM header merged into the recipe plays)', () => {
  const header = taskHeader('conf_wn', 'wn', 'linux');

  it('adds hosts, become, no fact gathering and the task marker to each play', () => {
    const plays = recipePlays('- tasks:\n  - debug: msg=hi\n- name: second\n  tasks: [ { command: "true" } ]\n', header);
    expect(plays).toEqual([
      { name: 'conf_wn', hosts: 'wn', gather_facts: false, become: true, vars: { im_ctxt_task: 'conf_wn' }, tasks: [{ debug: 'msg=hi' }] },
      { name: 'second', hosts: 'wn', gather_facts: false, become: true, vars: { im_ctxt_task: 'conf_wn' }, tasks: [{ command: 'true' }] },
    ]);
  });

  it('merges vars (dict or list), keeps the recipe values, the marker always wins', () => {
    const [p] = recipePlays('- become: no\n  vars:\n    - a: 1\n    - im_ctxt_task: hijack\n  hosts: all\n  tasks: []\n', header);
    expect(p).toMatchObject({ become: false, hosts: 'all', vars: { a: 1, im_ctxt_task: 'conf_wn' } });
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

describe('basicPlaybook', () => {
  const master = node(0, 'front', '8.8.8.8', { features: ["disk.0.os.credentials.new.password = 'New-1!aa'", "disk.0.applications contains (name = 'nginx')", "disk.0.applications contains (name = 'ansible.roles.geerlingguy.mysql')"] });
  const wn = node(1, 'wn', '10.0.0.1', { priv: true, features: ["disk.0.os.credentials.new.public_key = 'ssh-ed25519 AAA'", "disk.0.os.credentials.new.private_key = 'K'", "net_interface.0.dns_name = 'w#N#.cluster'"] });
  const plays = loadYaml(
    basicPlaybook({ nodes: [master, wn], allNodes: [master, wn], hostNames: new Map([[0, '8.8.8.8_0'], [1, '10.0.0.1_1']]), masterVmId: 0, sshWaitTimeout: 30 }),
  ) as Play[];

  it('waits for SSH, gathers facts, sets the hostname and /etc/hosts', () => {
    expect(plays[0]).toMatchObject({ name: 'basic', hosts: 'all:!windows', gather_facts: false, become: true, vars: { im_ctxt_task: 'basic' } });
    const tasks = plays[0].tasks ?? [];
    expect(tasks.map((t) => t.name)).toEqual([
      'Wait for the SSH access',
      'Gather facts',
      'Set the hostname of the node',
      'Apply the hostname to the running system',
      'Add the nodes of the infrastructure to /etc/hosts',
    ]);
    expect(tasks[0]).toMatchObject({ wait_for_connection: { timeout: 30 } });
    expect(tasks[2]).toMatchObject({ hostname: { name: '{{ IM_NODE_FQDN }}' } });
    const block = (tasks[4].blockinfile as Record<string, unknown>).block as Tagged;
    expect(block.value).toBe('8.8.8.8 vnode-0.localdomain vnode-0\n10.0.0.1 w1.cluster w1');
  });

  it('installs applications per system (not Ansible roles)', () => {
    const main = plays.find((p) => p.name === 'main_front');
    expect(main?.tasks).toEqual([{ name: 'Install nginx', package: { name: 'nginx', state: 'present' }, ignore_errors: true }]);
    expect(plays.find((p) => p.name === 'main_wn')).toBeUndefined();
  });

  it('changes credentials last: the other VMs first, then the master', () => {
    const names = plays.map((p) => p.name);
    expect(names.slice(-2)).toEqual(['Change the credentials', 'Change the credentials of the master VM']);
    expect(plays[plays.length - 2].hosts).toBe('10.0.0.1_1');
    expect(plays[plays.length - 1].hosts).toBe('8.8.8.8_0');
    const pw = (plays[plays.length - 1].tasks ?? [])[0];
    expect(pw).toMatchObject({ command: 'chpasswd', no_log: true, when: 'im_ctxt_new_password is defined' });
  });
});

describe('helpers', () => {
  it('etc hosts, package names, galaxy requirements, ansible.cfg', () => {
    expect(etcHostsBlock([node(3, 's', '1.2.3.4', { features: ["net_interface.0.dns_name = 'solo'"] })])).toBe('1.2.3.4 solo.localdomain solo');
    expect(packageName({ name: 'nginx' })).toBe('nginx');
    expect(packageName({ name: 'gmetad.ganglia' })).toBe('ganglia');
    expect(packageName({ name: 'nginx', preinstalled: true })).toBeUndefined();
    expect(packageName({ name: 'ansible.roles.x' })).toBeUndefined();
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
    const cfg = ansibleCfg({ workDir: '/w', forks: 12, timeout: 20, callbackDir: '/w/cb', callbackName: 'im_jsonl' });
    for (const line of [
      'host_key_checking = False',
      'forks = 12',
      'timeout = 20',
      'pipelining = True',
      'ssh_args = -o ControlMaster=auto -o ControlPersist=no',
      'stdout_callback = im_jsonl',
      'fact_caching_connection = /w/facts',
    ]) {
      expect(cfg).toContain(line);
    }
  });
});
