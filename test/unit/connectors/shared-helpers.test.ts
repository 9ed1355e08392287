/**
 * The provider-neutral helpers that every connector that learns addresses or creates users uses (EC2,
 * OpenStack): IP classification and placement (lifecycle.md §4), OpenSSH public keys from RADL credentials,
 * cloud-init user data with the `cloud_init` recipes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { parseRadl } from '#radl/index';
import { loadConfig } from '#core/config';
import { cloudInitRecipes, cloudInitUserData } from '#connectors/cloud-init';
import { assignIps, ipInCidr, isPrivateIp } from '#connectors/ip-addresses';
import { publicKeyFromPrivate } from '#connectors/ssh-keys';

const MASKS = loadConfig({}).PRIVATE_NET_MASKS;

describe('provider-neutral connector helpers', () => {
  it('classifies IPs with PRIVATE_NET_MASKS and matches wildcard CIDRs', () => {
    expect(isPrivateIp('10.1.2.3', MASKS)).toBe(true);
    expect(isPrivateIp('172.31.0.5', MASKS)).toBe(true);
    expect(isPrivateIp('100.64.1.1', MASKS)).toBe(true);
    expect(isPrivateIp('54.12.1.9', MASKS)).toBe(false);
    expect(isPrivateIp('2001:db8::1', MASKS)).toBe(false);
    expect(isPrivateIp('garbage', MASKS)).toBe(false);
    expect(ipInCidr('10.5.7.9', '10.*.*.0/24')).toBe(true);
    expect(ipInCidr('10.5.7.9', '192.168.0.0/16')).toBe(false);
    expect(ipInCidr('10.5.7.9', 'nonsense')).toBe(false);
  });

  it('places public and private IPs on the right interfaces', () => {
    const radl = parseRadl(`
      network pub (outbound = 'yes')
      network a (cidr = '192.168.0.0/16')
      network b (cidr = '10.*.*.0/24')
      system s (net_interface.0.connection = 'a' and net_interface.1.connection = 'pub' and net_interface.2.connection = 'b')`);
    const sys = radl.getSystemByName('s')!;
    assignIps(sys, radl, ['54.1.2.3', '10.9.9.9', '2600:1f18::5'], MASKS);
    expect(sys.getString('net_interface.1.ip')).toBe('54.1.2.3');
    expect(sys.getString('net_interface.2.ip')).toBe('10.9.9.9');
    expect(sys.getString('net_interface.0.ip')).toBeUndefined();
    expect(sys.getString('net_interface.1.ipv6')).toBe('2600:1f18::5');
    // A later refresh without a public IP (stopped VM) keeps the old value; a new one replaces it.
    assignIps(sys, radl, ['10.9.9.9'], MASKS);
    expect(sys.getString('net_interface.1.ip')).toBe('54.1.2.3');
    assignIps(sys, radl, ['3.3.3.3', '10.9.9.9'], MASKS);
    expect(sys.getString('net_interface.1.ip')).toBe('3.3.3.3');
  });

  it('derives OpenSSH public keys (RSA, EC as ssh2 reads them; Ed25519 from the raw key)', () => {
    for (const [type, opts, enc] of [
      ['rsa', { modulusLength: 2048 }, 'pkcs1'],
      ['ec', { namedCurve: 'P-256' }, 'sec1'],
    ] as const) {
      const { privateKey } = generateKeyPairSync(type as 'rsa', {
        ...(opts as object),
        privateKeyEncoding: { type: enc as 'pkcs1', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      } as never) as unknown as { privateKey: string };
      const parsed = ssh2.utils.parseKey(privateKey);
      if (parsed instanceof Error) throw parsed;
      const ref = Array.isArray(parsed) ? parsed[0] : parsed;
      expect(publicKeyFromPrivate(privateKey), type).toBe(`${ref.type} ${ref.getPublicSSH().toString('base64')}`);
    }
    const ed = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'der' } });
    const raw = ed.publicKey.subarray(ed.publicKey.length - 32);
    const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    expect(publicKeyFromPrivate(ed.privateKey)).toBe(`ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')}`);
    expect(publicKeyFromPrivate('not a key')).toBeUndefined();
  });

  it('builds cloud-init user data, multipart with the cloud_init recipes', () => {
    const simple = cloudInitUserData('cloudadm', 'ssh-rsa AAAA');
    expect(simple).toBe(
      '#cloud-config\nusers:\n  - default\n  - name: cloudadm\n    sudo: "ALL=(ALL) NOPASSWD:ALL"\n    shell: /bin/bash\n    lock_passwd: true\n    ssh_authorized_keys:\n      - "ssh-rsa AAAA"\n',
    );
    const radl = parseRadl(`
system s ( cpu.count >= 1 )
configure boot (
@begin
#!/bin/sh
echo hi
@end
)
configure play (
@begin
- hosts: all
@end
)
contextualize ( system s configure boot with cloud_init system s configure play step 1 )`);
    const recipes = cloudInitRecipes(radl, 's');
    expect(recipes).toHaveLength(1);
    const multi = cloudInitUserData('u', undefined, recipes);
    expect(multi).toContain('Content-Type: multipart/mixed; boundary="==IM-EC2-BOUNDARY=="');
    expect(multi).toContain('Content-Type: text/cloud-config');
    expect(multi).toContain('Content-Type: text/x-shellscript; charset="utf-8"\nMIME-Version: 1.0\n\n#!/bin/sh\necho hi');
    expect(multi.trimEnd().endsWith('--==IM-EC2-BOUNDARY==--')).toBe(true);
  });
});
