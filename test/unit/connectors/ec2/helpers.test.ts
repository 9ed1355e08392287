/**
 * The EC2 instance-type table and the cheapest-fit selection; the outports → security-group rules;
 * the pure helpers of the connector (URLs, states, errors, requirements, tags, devices, key pair names).
 * The provider-neutral helpers (IPs, SSH keys, cloud-init) are tested in test/unit/connectors/shared-helpers.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseOutports, parseRadl } from '#radl/index';
import { ImError } from '#core/errors';
import { parseInstanceTags } from '#connectors/instance-tags';
import { normalisePublicKey } from '#connectors/ssh-keys';
import { mapEc2Error } from '#connectors/ec2/errors';
import {
  INSTANCE_TYPES,
  candidateInstanceTypes,
  cheapestInstanceType,
  describeRequirements,
  fits,
  instanceTypeInfo,
  normaliseArch,
  wildcardToRegExp,
} from '#connectors/ec2/instance-types';
import { isKeyPairName } from '#connectors/ec2/keys';
import { parseImageUrl, parseProviderId } from '#connectors/ec2/refs';
import { instanceRequirements } from '#connectors/ec2/requirements';
import { ingressPermissions, outportToPermission } from '#connectors/ec2/security-groups';
import { mapEc2State } from '#connectors/ec2/state';
import { nameTag, toEc2Tags } from '#connectors/ec2/tags';
import { deviceName } from '#connectors/ec2/volumes';

describe('instance type table', () => {
  it('covers the common families with sane rows', () => {
    expect(INSTANCE_TYPES.length).toBeGreaterThanOrEqual(60);
    expect(INSTANCE_TYPES.length).toBeLessThanOrEqual(120);
    for (const fam of ['t3', 't3a', 't4g', 'm5', 'm6i', 'm7g', 'c5', 'c6i', 'c7g', 'r5', 'r6i', 'g4dn', 'g5', 'p3']) {
      expect(INSTANCE_TYPES.some((t) => t.name.startsWith(`${fam}.`)), fam).toBe(true);
    }
    const names = new Set<string>();
    for (const t of INSTANCE_TYPES) {
      expect(names.has(t.name), t.name).toBe(false);
      names.add(t.name);
      expect(t.vcpus).toBeGreaterThan(0);
      expect(t.memoryMiB).toBeGreaterThan(0);
      expect(t.price).toBeGreaterThan(0);
      expect(['x86_64', 'arm64']).toContain(t.arch);
      if (t.gpus > 0) expect(t.gpuVendor).toBe('NVIDIA');
    }
    expect(instanceTypeInfo('t3.micro')).toMatchObject({ vcpus: 2, memoryMiB: 1024, arch: 'x86_64', price: 0.0104 });
    expect(instanceTypeInfo('t4g.nano')?.arch).toBe('arm64');
    expect(instanceTypeInfo('p3.2xlarge')).toMatchObject({ gpus: 1, gpuModel: 'V100', memoryMiB: 61 * 1024 });
  });

  it('picks the cheapest type that fits cpu and memory', () => {
    expect(cheapestInstanceType({ cpus: { min: 1 }, memoryMiB: { min: 488 }, arch: 'x86_64' })?.name).toBe('t3a.nano');
    expect(cheapestInstanceType({ cpus: { min: 2 }, memoryMiB: { min: 3815 }, arch: 'x86_64' })?.name).toBe('t3a.medium');
    expect(cheapestInstanceType({ cpus: { min: 4 }, memoryMiB: { min: 8192 }, arch: 'x86_64' })?.name).toBe('t3a.xlarge');
    expect(cheapestInstanceType({ cpus: { min: 16 }, memoryMiB: { min: 100 * 1024 }, arch: 'x86_64' })?.name).toBe('r5.4xlarge');
    // Without an architecture the Graviton types compete too.
    expect(cheapestInstanceType({ cpus: { min: 2 }, memoryMiB: { min: 1024 } })?.name).toBe('t4g.micro');
  });

  it('honours exact cpu counts and upper bounds', () => {
    expect(cheapestInstanceType({ cpus: { min: 4, max: 4 }, memoryMiB: { min: 1 }, arch: 'x86_64' })?.name).toBe('t3a.xlarge');
    expect(cheapestInstanceType({ cpus: { min: 1, max: 1 }, arch: 'arm64' })?.name).toBe('c7g.medium');
    expect(cheapestInstanceType({ memoryMiB: { min: 16 * 1024, max: 16 * 1024 }, cpus: { max: 2 }, arch: 'x86_64' })?.name).toBe('r5.large');
  });

  it('supports exact names and wildcards', () => {
    expect(cheapestInstanceType({ instanceType: 'm5.xlarge' })?.name).toBe('m5.xlarge');
    expect(cheapestInstanceType({ instanceType: 'c6i.*' })?.name).toBe('c6i.large');
    expect(cheapestInstanceType({ instanceType: 'c6i.*', cpus: { min: 10 } })?.name).toBe('c6i.4xlarge');
    expect(cheapestInstanceType({ instanceType: '*.2xlarge', arch: 'arm64' })?.name).toBe('t4g.2xlarge');
    expect(cheapestInstanceType({ instanceType: 'm?g.*' })?.name).toBe('m7g.medium');
    expect(wildcardToRegExp('t3.*').test('t3a.micro')).toBe(false);
    expect(wildcardToRegExp('t3*').test('t3a.micro')).toBe(true);
    // A type the table does not list is accepted as given (size unknown).
    expect(cheapestInstanceType({ instanceType: 'x2idn.16xlarge' })).toMatchObject({ name: 'x2idn.16xlarge', vcpus: 0 });
    expect(cheapestInstanceType({ instanceType: 'not a type' })).toBeUndefined();
  });

  it('selects GPU types by count, vendor and model', () => {
    expect(cheapestInstanceType({ gpus: { min: 1 } })?.name).toBe('g4dn.xlarge');
    expect(cheapestInstanceType({ gpus: { min: 1 }, gpuModel: 'NVIDIA A10G' })?.name).toBe('g5.xlarge');
    expect(cheapestInstanceType({ gpus: { min: 1 }, gpuModel: 'Tesla V100' })?.name).toBe('p3.2xlarge');
    expect(cheapestInstanceType({ gpus: { min: 4 }, gpuVendor: 'nvidia' })?.name).toBe('g4dn.12xlarge');
    expect(cheapestInstanceType({ gpus: { min: 8 }, gpuModel: 'V100' })?.name).toBe('p3.16xlarge');
    expect(cheapestInstanceType({ gpus: { min: 1 }, gpuVendor: 'AMD' })).toBeUndefined();
    // No GPU asked: GPU types are still allowed but never cheapest for small sizes.
    expect(cheapestInstanceType({ cpus: { min: 4 }, arch: 'x86_64' })?.gpus).toBe(0);
  });

  it('maps architectures (i386 → x86_64, aarch64 → arm64)', () => {
    expect(normaliseArch('i386')).toBe('x86_64');
    expect(normaliseArch('X86_64')).toBe('x86_64');
    expect(normaliseArch('aarch64')).toBe('arm64');
    expect(normaliseArch('sparc')).toBeUndefined();
    expect(cheapestInstanceType({ arch: 'i386', memoryMiB: { min: 2048 } })?.name).toBe('t3a.small');
    expect(cheapestInstanceType({ arch: 'aarch64', memoryMiB: { min: 2048 } })?.name).toBe('t4g.small');
    expect(cheapestInstanceType({ arch: 'arm64', cpus: { min: 64 }, memoryMiB: { min: 256 * 1024 } })?.name).toBe('m7g.16xlarge');
    expect(cheapestInstanceType({ arch: 'sparc' })).toBeUndefined();
  });

  it('respects price bounds and reports when nothing fits', () => {
    expect(cheapestInstanceType({ cpus: { min: 8 }, price: { max: 0.2 } })).toBeUndefined();
    expect(cheapestInstanceType({ cpus: { min: 8 }, price: { max: 0.3 } })?.name).toBe('t4g.2xlarge');
    expect(cheapestInstanceType({ cpus: { min: 256 } })).toBeUndefined();
    expect(candidateInstanceTypes({ cpus: { min: 96 }, arch: 'x86_64' }).map((t) => t.name).slice(0, 2)).toEqual(['c5.24xlarge', 'c6i.24xlarge']);
    expect(describeRequirements({ cpus: { min: 2, max: 2 }, memoryMiB: { min: 512 }, instanceType: 't3.*', price: { max: 1 } })).toBe(
      "instance_type = 't3.*', cpu.count = 2, memory.size >= 512MiB, price <= 1",
    );
    expect(fits(instanceTypeInfo('t3.micro')!, { gpuModel: 'T4' })).toBe(false);
  });
});

describe('outports → security group rules', () => {
  it('converts ports, mappings, ranges, protocols and CIDR prefixes', () => {
    const perms = parseOutports('80,8080-80,9000:9100/udp,1/icmp,10.0.0.0/8-5432/tcp-5432/tcp,2001:db8::/32-443').map(outportToPermission);
    expect(perms).toEqual([
      { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
      { IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
      { IpProtocol: 'udp', FromPort: 9000, ToPort: 9100, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
      { IpProtocol: 'icmp', FromPort: -1, ToPort: -1, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
      { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, Ipv6Ranges: [{ CidrIpv6: '2001:db8::/32' }] },
    ]);
  });

  it('always opens SSH and the group to itself; outports only on public networks; no duplicates', () => {
    const ops = parseOutports('22,80');
    const pub = ingressPermissions('sg-1', ops, true);
    expect(pub).toEqual([
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'SSH (IM)' }] },
      { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-1', Description: 'same network (IM)' }] },
      { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
    ]);
    expect(ingressPermissions('sg-2', ops, false)).toHaveLength(2);
    expect(ingressPermissions('sg-3', undefined, true)).toHaveLength(2);
  });
});

describe('EC2 helpers', () => {
  it('parses image URLs and provider ids', () => {
    expect(parseImageUrl('aws://us-east-1/ami-0abc123')).toEqual({ region: 'us-east-1', id: 'ami-0abc123', kind: 'ami' });
    expect(parseImageUrl('aws://eu-west-1/snap-0123')).toEqual({ region: 'eu-west-1', id: 'snap-0123', kind: 'snap' });
    expect(parseImageUrl('aws://us-gov-west-1/ami-1')?.region).toBe('us-gov-west-1');
    for (const bad of ['ost://host/ami-1', 'aws://nowhere/ami-1', 'aws://us-east-1/vol-1', 'aws://us-east-1/', undefined]) {
      expect(parseImageUrl(bad), String(bad)).toBeUndefined();
    }
    expect(parseProviderId('us-east-1;i-0abc')).toEqual({ region: 'us-east-1', instanceId: 'i-0abc' });
    expect(parseProviderId('us-east-1;sir-123')).toBeUndefined();
    expect(parseProviderId('')).toBeUndefined();
  });

  it('maps every EC2 state', () => {
    expect(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated', 'weird', undefined].map((s) => mapEc2State(s))).toEqual([
      'pending',
      'running',
      'running',
      'stopped',
      'off',
      'off',
      'unknown',
      'unknown',
    ]);
  });

  it('maps errors and scrubs secrets', () => {
    const err = (name: string, message = 'boom') => Object.assign(new Error(message), { name });
    expect(mapEc2Error(err('RequestLimitExceeded', 'Request limit exceeded.'), 'ctx')).toMatchObject({
      code: 'CLOUD_RETRYABLE',
      message: 'ctx: Request limit exceeded. (RequestLimitExceeded)',
    });
    expect(mapEc2Error(err('AuthFailure', 'AWS was not able to validate the provided access credentials'), 'ctx')).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'EC2 credentials rejected: AuthFailure',
    });
    expect(mapEc2Error(err('InvalidAMIID.Malformed', 'Invalid id: "SECRETSECRET"'), 'ctx', ['SECRETSECRET']).message).toBe(
      'ctx: Invalid id: "[REDACTED]" (InvalidAMIID.Malformed)',
    );
    const im = new ImError('BAD_REQUEST', 'x');
    expect(mapEc2Error(im, 'ctx')).toBe(im);
    expect(mapEc2Error(new Error('socket hang up'), 'ctx')).toMatchObject({ code: 'BAD_REQUEST', message: 'ctx: socket hang up' });
  });

  it('reads requirements from a system', () => {
    const radl = parseRadl(`system s (cpu.count >= 2 and cpu.count <= 8 and memory.size = 4G and cpu.arch = 'x86_64' and
      gpu.count >= 1 and gpu.vendor = 'NVIDIA' and gpu.model = 'T4' and price <= 1.5 and instance_type = 'g4dn.*')`);
    expect(instanceRequirements(radl.getSystemByName('s')!)).toEqual({
      instanceType: 'g4dn.*',
      cpus: { min: 2, max: 8 },
      memoryMiB: { min: 4e9 / 2 ** 20 },
      arch: 'x86_64',
      gpus: { min: 1 },
      gpuVendor: 'NVIDIA',
      gpuModel: 'T4',
      price: { max: 1.5 },
    });
    expect(instanceRequirements(radl.getSystemByName('s')!, 'arm64').arch).toBe('arm64');
  });

  it('parses instance_tags and builds EC2 tags', () => {
    expect(parseInstanceTags('a=1, b = two ,bad,c=x=y,=v')).toEqual({ a: '1', b: 'two', c: 'x=y' });
    expect(toEc2Tags({ 'aws:x': '1', k: 'v'.repeat(300) })).toEqual([{ Key: 'k', Value: 'v'.repeat(256) }]);
    const sys = parseRadl(`system Front_End (disk.0.image.name = 'My_Image')`).getSystemByName('Front_End')!;
    expect(nameTag(sys, 'u')).toBe('my-image-u');
    sys.setValue('instance_name', 'Web_1');
    expect(nameTag(sys, 'u')).toBe('web-1-u');
  });

  it('names data-disk devices', () => {
    const sys = parseRadl(`system s (disk.1.device = 'xvdf' and disk.2.device = '/dev/sdh')`).getSystemByName('s')!;
    expect(deviceName(sys, 1)).toBe('/dev/xvdf');
    expect(deviceName(sys, 2)).toBe('/dev/sdh');
    expect(deviceName(sys, 3)).toBe('/dev/sdd');
  });

  it('recognises public keys and key pair names', () => {
    const { publicKey } = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    expect(normalisePublicKey(publicKey)).toMatch(/^ssh-ed25519 AAAA/);
    expect(normalisePublicKey('ssh-rsa AAAAB3NzaC1yc2E user@host')).toBe('ssh-rsa AAAAB3NzaC1yc2E');
    expect(isKeyPairName('my-keypair')).toBe(true);
    expect(isKeyPairName('ssh-rsa AAAAB3NzaC1yc2E')).toBe(false);
    expect(isKeyPairName(publicKey)).toBe(false);
  });
});
