import { describe, expect, it } from 'vitest';
import { parseRadl } from '#radl/index';
import { buildInventory, inventoryHostName, proxyCommandArgs, varToken } from '#runner/inventory';
import type { CtxtNode, JumpHost } from '#runner/nodes';
import { loadYaml, Tagged } from '#runner/yaml';
import { node } from './helpers.ts';

const RADL = parseRadl(`network pub (outbound = 'yes')
system front (net_interface.0.connection = 'pub' and disk.0.os.credentials.username = 'u' and disk.0.os.credentials.password = 'secret')
system wn (cpu.count = 1)
configure front (
@begin
- tasks: [ { debug: { msg: "{{ IM_NODE_FQDN }}" } } ]
@end
)
deploy front 1
deploy wn 2`);

function inventory(nodes: CtxtNode[], jump?: JumpHost) {
  return buildInventory({
    infId: 'inf-1',
    nodes,
    master: { hostname: nodes[0].hostname, domain: nodes[0].domain, fqdn: nodes[0].fqdn },
    jumpFor: (n) => (n.publicIp ? undefined : jump),
    keyDir: '/w/keys',
    infraRadl: RADL,
  });
}

type Inv = { all: { vars: Record<string, unknown>; children: Record<string, { hosts: Record<string, Record<string, unknown>> }> } };

describe('buildInventory', () => {
  const master = node(0, 'front', '8.8.8.8', { features: ["disk.0.applications contains (name = 'my-app' and version = '2.0' and path = '/opt/a')"] });
  const wn1 = node(1, 'wn', '10.0.0.1', { priv: true, features: ["disk.0.os.credentials.private_key = 'KEYDATA'", "disk.0.os.credentials.new.password = 'New-Pass1!'"] });
  const wn2 = node(2, 'wn', '10.0.0.2', { priv: true, features: ["net_interface.0.dns_name = 'worker-#N#'"] });
  const jump: JumpHost = { host: '8.8.8.8', port: 22, user: 'user0', password: 'pw0', label: 'master VM 0' };

  it('has one group per system, IM_* variables, credentials and key files', () => {
    const out = inventory([master, wn1, wn2], jump);
    const inv = loadYaml(out.yaml) as Inv;
    expect(Object.keys(inv.all.children)).toEqual(['front', 'wn', 'windows']);
    expect(out.hostNames).toEqual(new Map([[0, '8.8.8.8_0'], [1, '10.0.0.1_1'], [2, '10.0.0.2_2']]));
    const h0 = inv.all.children.front.hosts['8.8.8.8_0'];
    expect(h0).toMatchObject({
      ansible_host: '8.8.8.8',
      ansible_port: 22,
      ansible_user: 'user0',
      ansible_password: 'pw0',
      ansible_become_password: 'pw0',
      IM_NODE_PUBLIC_IP: '8.8.8.8',
      IM_NODE_PRIVATE_IP: '8.8.8.8',
      IM_NODE_HOSTNAME: 'vnode-0',
      IM_NODE_DOMAIN: 'localdomain',
      IM_NODE_FQDN: 'vnode-0.localdomain',
      IM_NODE_NUM: 0,
      IM_NODE_VMID: 'prov-0',
      IM_NODE_CLOUD_TYPE: 'DeployedNode',
      IM_NODE_NET_0_IP: '8.8.8.8',
      IM_APP_MY_APP_VERSION: '2.0',
      IM_APP_MY_APP_PATH: '/opt/a',
    });
    expect(h0.ansible_ssh_common_args).toBeUndefined();
    const h1 = inv.all.children.wn.hosts['10.0.0.1_1'];
    expect(h1).toMatchObject({ ansible_ssh_private_key_file: '/w/keys/vm1.pem', im_ctxt_new_password: 'New-Pass1!', IM_NODE_PRIVATE_IP: '10.0.0.1' });
    expect(h1.IM_NODE_PUBLIC_IP).toBeUndefined();
    expect(String(h1.ansible_ssh_common_args)).toContain('sshpass -f /w/keys/jump0.pw ssh -W %h:%p');
    expect(String(h1.ansible_ssh_common_args)).toContain('user0@8.8.8.8');
    const h2 = inv.all.children.wn.hosts['10.0.0.2_2'];
    expect(h2).toMatchObject({ IM_NODE_HOSTNAME: 'worker-2', IM_NODE_NET_0_HOSTNAME: 'worker-2', IM_NODE_NET_0_FQDN: 'worker-2.localdomain' });
    expect(inv.all.vars).toMatchObject({
      IM_FRONT_NUM_VMS: 1,
      IM_WN_NUM_VMS: 2,
      IM_MASTER_HOSTNAME: 'vnode-0',
      IM_MASTER_FQDN: 'vnode-0.localdomain',
      IM_MASTER_DOMAIN: 'localdomain',
      IM_INFRASTRUCTURE_ID: 'inf-1',
    });
    expect(out.files).toEqual([
      { path: '/w/keys/vm1.pem', content: 'KEYDATA\n', mode: 0o600 },
      { path: '/w/keys/jump0.pw', content: 'pw0', mode: 0o600 },
    ]);
  });

  it('IM_INFRASTRUCTURE_RADL: networks, systems and deploys with _ keys, no credentials, templates unsafe', () => {
    const out = inventory([master]);
    expect(out.yaml).not.toContain('secret');
    const inv = loadYaml(out.yaml) as Inv;
    const radl = inv.all.vars.IM_INFRASTRUCTURE_RADL as Record<string, unknown>[];
    expect(radl.map((i) => i.class)).toEqual(['network', 'system', 'system', 'deploy', 'deploy']);
    expect(radl[1]).toEqual({ class: 'system', id: 'front', net_interface_0_connection: 'pub', disk_0_os_credentials_username: 'u' });
    expect(radl[3]).toEqual({ class: 'deploy', system: 'front', vm_number: 1 });
  });

  it('tags values with { as !unsafe so Ansible never templates them', () => {
    const tricky = node(5, 'front', '8.8.4.4', { features: ["disk.0.os.credentials.new.password = 'x{{ lookup(\"pipe\", \"id\") }}'"] });
    const out = inventory([tricky]);
    expect(out.yaml).toMatch(/im_ctxt_new_password: !unsafe '?x\{\{ lookup/);
    const inv = loadYaml(out.yaml) as Inv;
    expect(inv.all.children.front.hosts['8.8.4.4_5'].im_ctxt_new_password).toBeInstanceOf(Tagged);
  });

  it('helpers', () => {
    expect(inventoryHostName(master)).toBe('8.8.8.8_0');
    expect(varToken('my-sys.1')).toBe('MY_SYS_1');
    expect(proxyCommandArgs({ host: 'h', port: 2200, user: 'u', privateKey: 'k', label: '' }, { keyFile: '/k.pem' }, 7)).toBe(
      '-o ProxyCommand="ssh -W %h:%p -q -p 2200 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=7 -o ControlMaster=no -o ControlPath=none -i /k.pem -o IdentitiesOnly=yes -o BatchMode=yes u@h"',
    );
  });
});
