/**
 * The EC2 connector against the mocked EC2 API (mock-ec2.ts). updateVmInfo: the EC2 state map, addresses,
 * instance type, pending Elastic IP associations and volumes to delete.
 */
import {
  DescribeInstancesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { Ec2Connector } from '#connectors/ec2/connector';
import { AUTH, connector, described, ec2Error, ec2Mock, handle, IID, input, instance, rejection, request, useMockCloud } from './mock-ec2.ts';

useMockCloud();

describe('updateVmInfo', () => {
  async function launched(c: Ec2Connector) {
    const req = request(c);
    return { req, vm: handle(req, await c.launch(req)) };
  }

  it.each([
    ['pending', 'pending'],
    ['running', 'running'],
    ['stopping', 'running'],
    ['stopped', 'stopped'],
    ['shutting-down', 'off'],
    ['terminated', 'off'],
  ] as const)('maps EC2 %s to %s', async (ec2State, imState) => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({}, ec2State)));
    const upd = await c.updateVmInfo(vm, AUTH);
    expect(input(DescribeInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(upd.state).toBe(imState);
  });

  it('fills public and private IPs per PRIVATE_NET_MASKS, type, launch time and zone', async () => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(
      described(
        instance({
          InstanceType: 'm5.large',
          LaunchTime: new Date('2025-02-03T04:05:06Z'),
          Placement: { AvailabilityZone: 'us-east-1c' },
          NetworkInterfaces: [
            {
              NetworkInterfaceId: 'eni-0a1',
              Attachment: { DeviceIndex: 0 },
              PrivateIpAddress: '172.31.16.10',
              Association: { PublicIp: '54.210.1.2' },
              PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: '172.31.16.10', Association: { PublicIp: '54.210.1.2' } }],
              Ipv6Addresses: [{ Ipv6Address: '2600:1f18:abcd::10' }],
            },
          ],
        }),
      ),
    );
    const upd = await c.updateVmInfo(vm, AUTH);
    const s = upd.system;
    expect(s.getString('net_interface.0.ip')).toBe('54.210.1.2');
    expect(s.getString('net_interface.1.ip')).toBe('172.31.16.10');
    expect(s.getString('net_interface.0.ipv6')).toBe('2600:1f18:abcd::10');
    expect(s.getString('instance_type')).toBe('m5.large');
    expect(s.getNumber('memory.size', 'GiB')).toBe(8);
    expect(s.getNumber('launch_time')).toBe(Date.parse('2025-02-03T04:05:06Z') / 1000);
    expect(s.getString('availability_zone')).toBe('us-east-1c');
    // the handle's system is not modified
    expect(vm.system.getString('net_interface.0.ip')).toBeUndefined();
  });

  it('records volumes that are not DeleteOnTermination', async () => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(
      described(instance({ BlockDeviceMappings: [{ DeviceName: '/dev/sdg', Ebs: { VolumeId: 'vol-keep', DeleteOnTermination: false, Status: 'attached' } }] })),
    );
    const upd = await c.updateVmInfo(vm, AUTH);
    expect(upd.cloudData).toMatchObject({ volumes: ['vol-keep'] });
  });

  it('reads a vanished instance as off, but as pending right after its launch (eventual consistency)', async () => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound', `The instance ID '${IID}' does not exist`));
    expect((await c.updateVmInfo(vm, AUTH)).state).toBe('off');
    vm.system.setValue('launch_time', Math.floor(Date.now() / 1000) - 10);
    expect((await c.updateVmInfo(vm, AUTH)).state).toBe('pending');
  });

  it('maps throttling to CLOUD_RETRYABLE and refuses a VM without instance', async () => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 'Request limit exceeded.'));
    expect((await rejection(c.updateVmInfo(vm, AUTH))).code).toBe('CLOUD_RETRYABLE');
    const err = await rejection(c.updateVmInfo({ ...vm, providerId: '', cloudData: { region: 'us-east-1' } }, AUTH));
    expect(err.code).toBe('BAD_REQUEST');
  });
});
