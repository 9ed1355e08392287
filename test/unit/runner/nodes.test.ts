import { describe, expect, it } from 'vitest';
import { canBeMaster, nodeFromVm, parseProxyHost, selectMaster, splitName } from '#runner/nodes';
import { NAMING, node, vmRecord } from './helpers.ts';

describe('nodes', () => {
  it('splits names at the first dot and replaces #N#', () => {
    expect(splitName('vnode-#N#', 3, 'localdomain')).toEqual(['vnode-3', 'localdomain']);
    expect(splitName('fe-#N#.example.org', 7, 'localdomain')).toEqual(['fe-7', 'example.org']);
  });

  it('reads IPs, names, credentials and the ssh port of a VM', () => {
    const n = nodeFromVm(
      vmRecord(
        4,
        'fe',
        `network pub (outbound = 'yes' and outports = '2222-22,80')
network priv ()
system fe (
  net_interface.0.connection = 'pub' and net_interface.0.ip = '8.8.8.8' and net_interface.0.dns_name = 'front-#N#.example.org' and
  net_interface.1.connection = 'priv' and net_interface.1.ip = '10.0.0.4' and
  disk.0.os.name = 'linux' and disk.0.os.credentials.username = 'cloudadm' and disk.0.os.credentials.password = 'old' and
  disk.0.os.credentials.new.password = 'New-pass1!' and
  disk.0.applications contains (name = 'nginx' and version = '1.2' and path = '/opt/nginx') and
  disk.1.size = 10G and disk.1.device = 'vdb' and disk.1.mount_path = '/data' and disk.1.fstype = 'ext4'
)`,
      ),
      NAMING,
    );
    expect(n).toMatchObject({
      vmId: 4,
      systemName: 'fe',
      providerId: 'prov-4',
      publicIp: '8.8.8.8',
      privateIp: '10.0.0.4',
      ip: '8.8.8.8',
      sshPort: 2222,
      hostname: 'front-4',
      domain: 'example.org',
      fqdn: 'front-4.example.org',
      creds: { user: 'cloudadm', password: 'old' },
      newCreds: { password: 'New-pass1!' },
      applications: [{ name: 'nginx', version: '1.2', path: '/opt/nginx' }],
      dataDisks: [{ index: 1, device: 'vdb', mountPath: '/data', fstype: 'ext4' }],
      os: 'linux',
    });
    expect(n.ifaces.map((f) => [f.index, f.isPublic, f.ip, f.hostname])).toEqual([
      [0, true, '8.8.8.8', 'front-4'],
      [1, false, '10.0.0.4', undefined],
    ]);
  });

  it('defaults the name to DEFAULT_VM_NAME.DEFAULT_DOMAIN and ignores a new password equal to the old', () => {
    const n = node(2, 'wn', '10.0.0.2', { priv: true, features: ["disk.0.os.credentials.new.password = 'pw2'"] });
    expect([n.hostname, n.domain, n.fqdn]).toEqual(['vnode-2', 'localdomain', 'vnode-2.localdomain']);
    expect(n.publicIp).toBeUndefined();
    expect(n.privateIp).toBe('10.0.0.2');
    expect(n.newCreds).toEqual({});
  });

  it('parses proxy_host and takes it from the private network', () => {
    expect(parseProxyHost('ops:secret@bastion.example.org:2200')).toMatchObject({ user: 'ops', password: 'secret', host: 'bastion.example.org', port: 2200 });
    expect(parseProxyHost('bastion')).toMatchObject({ user: 'root', host: 'bastion', port: 22 });
    const n = node(1, 'wn', '10.0.0.9', { priv: true, nets: "network pub (outbound = 'yes')\nnetwork priv (proxy_host = 'u:p@1.2.3.4')" });
    expect(n.proxy).toMatchObject({ host: '1.2.3.4', user: 'u', password: 'p' });
  });

  it('selects the master: Linux with a public IP, most connected, lowest id; keeps the stored one', () => {
    const a = node(0, 'wn', '10.0.0.1', { priv: true });
    const b = node(1, 'fe', '1.1.1.1');
    const c = node(2, 'fe', '1.1.1.2');
    const win = node(3, 'fe', '1.1.1.3', { features: ["disk.0.os.name = 'windows'"] });
    expect(canBeMaster(a)).toBe(false);
    expect(canBeMaster(win)).toBe(false);
    const all = [a, b, c, win];
    expect(selectMaster(all, () => true)?.vmId).toBe(1);
    expect(selectMaster(all, () => true, 2)?.vmId).toBe(2);
    expect(selectMaster(all, (n) => n.vmId !== 1)?.vmId).toBe(2);
    expect(selectMaster([a], () => true)).toBeUndefined();
  });
});
