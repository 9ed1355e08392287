/**
 * The EC2 connector against the mocked EC2 API (mock-ec2.ts). finalize: idempotent removal of everything a VM
 * owns, shared security groups with the last VM, errors reported together.
 */
import {
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeleteVolumeCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DisassociateAddressCommand,
  ReleaseAddressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { parseRadl } from '#radl/index';
import type { VmHandle } from '#core/types';
import { launchErrorCloudData, type Ec2CloudData } from '#connectors/ec2/cloud-data';
import { AUTH, connector, count, described, ec2Error, ec2Mock, IID, INF, input, instance, RADL_TEXT, rejection, request, sequence, stubCloud, useMockCloud } from './mock-ec2.ts';

useMockCloud();

describe('finalize', () => {
  const fullData = (): Ec2CloudData => ({
    region: 'us-east-1',
    instanceId: IID,
    vpcId: 'vpc-0def',
    subnetId: 'subnet-0aaa',
    securityGroups: [
      { id: 'sg-pub', name: `im-${INF}-pub`, vpcId: 'vpc-0def', managed: true },
      { id: 'sg-user', name: 'user-sg', vpcId: 'vpc-0def', managed: false },
    ],
    keyPair: `im-${INF}-0`,
    elasticIps: [{ allocationId: 'eipalloc-new', publicIp: '54.200.10.10', allocated: true, associationId: 'eipassoc-2' }],
    volumes: ['vol-keep'],
  });
  function vmHandle(data: Ec2CloudData | undefined, providerId = `us-east-1;${IID}`): VmHandle {
    const radl = parseRadl(RADL_TEXT);
    return { infId: INF, vmId: 0, providerId, system: radl.systems[0], radl, ...(data ? { cloudData: data as unknown as Record<string, unknown> } : {}) };
  }
  const terminating = () =>
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce(described(instance()))
      .resolvesOnce(described(instance({}, 'shutting-down')))
      .resolves(described(instance({}, 'terminated')));

  it('removes everything of a fully created VM in order (last VM)', async () => {
    terminating();
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-new', PublicIp: '54.200.10.10', AssociationId: 'eipassoc-2', InstanceId: IID }] });
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-pub' }, { GroupId: 'sg-priv' }] });
    const c = connector();
    await c.finalize(vmHandle(fullData()), true, AUTH);
    expect(sequence()).toEqual([
      'DescribeInstances',
      'DescribeAddresses',
      'DisassociateAddress',
      'ReleaseAddress',
      'TerminateInstances',
      'DescribeInstances',
      'DescribeInstances',
      'DeleteVolume',
      'DeleteKeyPair',
      'DescribeSecurityGroups',
      'DeleteSecurityGroup',
      'DeleteSecurityGroup',
    ]);
    expect(input(DescribeAddressesCommand)).toEqual({ AllocationIds: ['eipalloc-new'] });
    expect(input(DisassociateAddressCommand)).toEqual({ AssociationId: 'eipassoc-2' });
    expect(input(ReleaseAddressCommand)).toEqual({ AllocationId: 'eipalloc-new' });
    expect(input(TerminateInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(input(DeleteVolumeCommand)).toEqual({ VolumeId: 'vol-keep' });
    expect(input(DeleteKeyPairCommand)).toEqual({ KeyName: `im-${INF}-0` });
    expect(input(DescribeSecurityGroupsCommand)).toEqual({ Filters: [{ Name: 'tag:IM-INFRA-ID', Values: [INF] }] });
    expect([input(DeleteSecurityGroupCommand, 0), input(DeleteSecurityGroupCommand, 1)]).toEqual([{ GroupId: 'sg-pub' }, { GroupId: 'sg-priv' }]);
  });

  it('keeps the shared groups when it is not the last VM, and only disassociates a user Elastic IP', async () => {
    terminating();
    ec2Mock
      .on(DescribeInstancesCommand, { Filters: [{ Name: 'tag:IM-INFRA-ID', Values: [INF] }, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] })
      .resolves(described(instance({ InstanceId: 'i-0other' })));
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-user', PublicIp: '54.200.10.10', AssociationId: 'eipassoc-1', InstanceId: IID }] });
    const data = { ...fullData(), elasticIps: [{ allocationId: 'eipalloc-user', publicIp: '54.200.10.10', allocated: false, associationId: 'eipassoc-1' }] };
    await connector().finalize(vmHandle(data), false, AUTH);
    expect(count(DisassociateAddressCommand)).toBe(1);
    expect(count(ReleaseAddressCommand)).toBe(0);
    expect(count(DescribeSecurityGroupsCommand) + count(DeleteSecurityGroupCommand)).toBe(0);
    expect(count(TerminateInstancesCommand)).toBe(1);
  });

  it('removes the shared groups with a VM not flagged last when no other instance of the infrastructure is left', async () => {
    terminating();
    ec2Mock.on(DescribeInstancesCommand, { Filters: [{ Name: 'tag:IM-INFRA-ID', Values: [INF] }, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] }).resolves(described(instance()));
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [] });
    await connector().finalize(vmHandle(fullData()), false, AUTH);
    expect(sequence().slice(-4)).toEqual(['DeleteKeyPair', 'DescribeInstances', 'DescribeSecurityGroups', 'DeleteSecurityGroup']);
    expect(input(DeleteSecurityGroupCommand)).toEqual({ GroupId: 'sg-pub' });
  });

  it('cleans up after a launch that created the groups but failed in RunInstances (groups left by the rollback)', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('InsufficientInstanceCapacity', 'no capacity'));
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(ec2Error('DependencyViolation', 'resource sg-pub has a dependent object'));
    const c = connector();
    const req = request(c);
    const err = await rejection(c.launch(req));
    const left = launchErrorCloudData(err);
    expect(left).toMatchObject({ securityGroups: [{ id: 'sg-pub' }, { id: 'sg-priv' }] });
    expect(left?.keyPair).toBeUndefined();

    ec2Mock.resetHistory();
    ec2Mock.on(DeleteSecurityGroupCommand).resolves({ Return: true });
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-pub' }] });
    await c.finalize({ infId: INF, vmId: 0, providerId: '', system: req.system, radl: req.radl, cloudData: left }, true, AUTH);
    expect(sequence()).toEqual(['DescribeSecurityGroups', 'DeleteSecurityGroup', 'DeleteSecurityGroup']);
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand).map((x) => x.args[0].input.GroupId)).toEqual(['sg-pub', 'sg-priv']);
  });

  it('cleans up a launch interrupted after creating a group and a key pair (no instance)', async () => {
    const data: Ec2CloudData = {
      region: 'us-east-1',
      vpcId: 'vpc-0def',
      securityGroups: [{ id: 'sg-pub', name: `im-${INF}-pub`, vpcId: 'vpc-0def', managed: true }],
      keyPair: `im-${INF}-0`,
    };
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await connector().finalize(vmHandle(data, ''), false, AUTH);
    expect(sequence()).toEqual(['DeleteKeyPair', 'DescribeInstances', 'DescribeSecurityGroups', 'DeleteSecurityGroup']);
    expect(input(DescribeInstancesCommand)).toEqual({
      Filters: [
        { Name: 'tag:IM-INFRA-ID', Values: [INF] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    });
  });

  it('completes on retry after the Elastic IP release failed (instance already terminated)', async () => {
    terminating();
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-new', PublicIp: '54.200.10.10', AssociationId: 'eipassoc-2', InstanceId: IID }] });
    ec2Mock.on(ReleaseAddressCommand).rejectsOnce(ec2Error('RequestLimitExceeded', 'Request limit exceeded.'));
    const c = connector();
    const vm = vmHandle(fullData());
    const err = await rejection(c.finalize(vm, true, AUTH));
    expect(err.code).toBe('CLOUD_RETRYABLE');
    expect(err.message).toMatch(/^Error finalizing VM 0 in EC2: release Elastic IP 54.200.10.10: Request limit exceeded./);
    expect(count(TerminateInstancesCommand)).toBe(1);
    expect(count(DeleteSecurityGroupCommand)).toBe(1);

    ec2Mock.resetHistory();
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({ BlockDeviceMappings: [] }, 'terminated')));
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-new', PublicIp: '54.200.10.10', Domain: 'vpc' }] });
    ec2Mock.on(DeleteVolumeCommand).rejects(ec2Error('InvalidVolume.NotFound'));
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(ec2Error('InvalidGroup.NotFound'));
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2Mock.on(ReleaseAddressCommand).resolves({});
    await c.finalize(vm, true, AUTH);
    expect(count(TerminateInstancesCommand)).toBe(0);
    expect(count(DisassociateAddressCommand)).toBe(0);
    expect(input(ReleaseAddressCommand)).toEqual({ AllocationId: 'eipalloc-new' });
  });

  it('treats NotFound everywhere as done', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));
    ec2Mock.on(TerminateInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));
    ec2Mock.on(DescribeAddressesCommand).rejects(ec2Error('InvalidAllocationID.NotFound'));
    ec2Mock.on(DeleteVolumeCommand).rejects(ec2Error('InvalidVolume.NotFound'));
    ec2Mock.on(DeleteKeyPairCommand).rejects(ec2Error('InvalidKeyPair.NotFound'));
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(ec2Error('InvalidGroup.NotFound'));
    await connector().finalize(vmHandle(fullData()), true, AUTH);
    expect(count(DeleteSecurityGroupCommand)).toBe(1);
    expect(count(DeleteVolumeCommand)).toBe(1);
  });

  it('retries a security group still in use (DependencyViolation)', async () => {
    terminating();
    ec2Mock
      .on(DeleteSecurityGroupCommand)
      .rejectsOnce(ec2Error('DependencyViolation', 'resource sg-pub has a dependent object'))
      .rejectsOnce(ec2Error('DependencyViolation', 'resource sg-pub has a dependent object'))
      .resolves({ Return: true });
    const data = { ...fullData(), elasticIps: [], volumes: [] };
    await connector().finalize(vmHandle(data), true, AUTH);
    expect(count(DeleteSecurityGroupCommand)).toBe(3);
  });

  it('gives up with CLOUD_RETRYABLE when the group stays in use or the instance does not terminate', async () => {
    terminating();
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(ec2Error('DependencyViolation', 'resource sg-pub has a dependent object'));
    const err = await rejection(connector({ sgDeleteAttempts: 3 }).finalize(vmHandle({ ...fullData(), elasticIps: [] }), true, AUTH));
    expect(err.code).toBe('CLOUD_RETRYABLE');
    expect(count(DeleteSecurityGroupCommand)).toBe(3);

    ec2Mock.reset();
    stubCloud();
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({}, 'shutting-down')));
    const slow = await rejection(connector({ maxPolls: 3 }).finalize(vmHandle({ ...fullData(), elasticIps: [] }), true, AUTH));
    expect(slow.code).toBe('CLOUD_RETRYABLE');
    expect(slow.message).toMatch(/did not reach state terminated/);
    expect(count(DeleteSecurityGroupCommand)).toBe(0);
    expect(count(DeleteVolumeCommand)).toBe(0);
    expect(count(DeleteKeyPairCommand)).toBe(1);
  });

  it('without cloudData still terminates the instance and removes the deterministic key pair', async () => {
    terminating();
    await connector().finalize(vmHandle(undefined), false, AUTH);
    expect(sequence()).toEqual(['DescribeInstances', 'TerminateInstances', 'DescribeInstances', 'DescribeInstances', 'DeleteKeyPair']);
    expect(input(DeleteKeyPairCommand)).toEqual({ KeyName: `im-${INF}-0` });
  });

  it('reports non-NotFound failures as BAD_REQUEST after trying every step', async () => {
    terminating();
    ec2Mock.on(DeleteKeyPairCommand).rejects(ec2Error('InvalidParameterValue', 'bad key name'));
    const err = await rejection(connector().finalize(vmHandle({ ...fullData(), elasticIps: [] }), true, AUTH));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: `Error finalizing VM 0 in EC2: delete key pair im-${INF}-0: bad key name (InvalidParameterValue)` });
    expect(count(DeleteSecurityGroupCommand)).toBe(1);
  });
});
