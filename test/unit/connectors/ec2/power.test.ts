/**
 * The EC2 connector against the mocked EC2 API (mock-ec2.ts). start, stop, reboot and alterVm (new instance
 * type; refused on a running VM unless alterRunning is restart).
 */
import {
  DescribeInstancesCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
  RebootInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { parseRadl } from '#radl/index';
import type { VmHandle } from '#core/types';
import { Ec2Connector } from '#connectors/ec2/connector';
import { AUTH, connector, count, described, ec2Error, ec2Mock, handle, IID, INF, input, instance, RADL_TEXT, rejection, request, sequence, useMockCloud } from './mock-ec2.ts';

useMockCloud();

describe('start, stop, reboot', () => {
  it('sends the instance commands to the region of the provider id', async () => {
    ec2Mock.on(StartInstancesCommand).resolves({ StartingInstances: [{ InstanceId: IID, CurrentState: { Code: 0, Name: 'pending' } }] });
    ec2Mock.on(StopInstancesCommand).resolves({ StoppingInstances: [{ InstanceId: IID, CurrentState: { Code: 64, Name: 'stopping' } }] });
    ec2Mock.on(RebootInstancesCommand).resolves({});
    const c = connector();
    const radl = parseRadl(RADL_TEXT);
    const vm: VmHandle = { infId: INF, vmId: 3, providerId: `eu-west-1;${IID}`, system: radl.systems[0], radl };
    await c.stop(vm, AUTH);
    await c.start(vm, AUTH);
    await c.reboot(vm, AUTH);
    expect(sequence()).toEqual(['StopInstances', 'StartInstances', 'RebootInstances']);
    expect(input(StopInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(input(StartInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(input(RebootInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(await (ec2Mock.call(0).thisValue as EC2Client).config.region()).toBe('eu-west-1');
  });

  it('reports EC2 refusals (e.g. stopping a spot instance) as 400', async () => {
    ec2Mock.on(StopInstancesCommand).rejects(ec2Error('UnsupportedOperation', 'You cannot stop the Spot Instance'));
    const c = connector();
    const radl = parseRadl(RADL_TEXT);
    const err = await rejection(c.stop({ infId: INF, vmId: 1, providerId: `us-east-1;${IID}`, system: radl.systems[0], radl }, AUTH));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: 'Error trying to stop VM 1 in EC2: You cannot stop the Spot Instance (UnsupportedOperation)' });
  });
});

// ---------------------------------------------------------------------------------------------
describe('alterVm', () => {
  async function launched(c: Ec2Connector) {
    const req = request(c);
    return handle(req, await c.launch(req));
  }
  const bigger = () => parseRadl(`system web (cpu.count >= 4 and memory.size >= 16G)`).systems[0];

  it('changes the type of a stopped instance', async () => {
    const c = connector();
    const vm = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({}, 'stopped')));
    ec2Mock.on(ModifyInstanceAttributeCommand).resolves({});
    const upd = await c.alterVm(vm, bigger(), AUTH);
    expect(input(ModifyInstanceAttributeCommand)).toEqual({ InstanceId: IID, InstanceType: { Value: 't3a.xlarge' } });
    expect(count(StartInstancesCommand)).toBe(0);
    expect(upd.state).toBe('stopped');
    expect(upd.system.getString('instance_type')).toBe('t3a.xlarge');
    expect(upd.system.getNumber('cpu.count')).toBe(4);
  });

  it('refuses a running instance by default', async () => {
    const c = connector();
    const vm = await launched(c);
    const err = await rejection(c.alterVm(vm, bigger(), AUTH));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/EC2 can only change the instance type of a stopped VM \(state running\)/);
    expect(count(ModifyInstanceAttributeCommand)).toBe(0);
  });

  it("stops, modifies and starts a running instance with alterRunning: 'restart'", async () => {
    const c = connector({ alterRunning: 'restart' });
    const vm = await launched(c);
    ec2Mock.resetHistory(); // resolvesOnce counts the stub's calls from here (the launch made some)
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce(described(instance()))
      .resolvesOnce(described(instance({}, 'stopping')))
      .resolves(described(instance({}, 'stopped')));
    ec2Mock.on(StopInstancesCommand).resolves({});
    ec2Mock.on(ModifyInstanceAttributeCommand).resolves({});
    ec2Mock.on(StartInstancesCommand).resolves({});
    const upd = await c.alterVm(vm, bigger(), AUTH);
    expect(sequence().slice(-6)).toEqual(['DescribeInstances', 'StopInstances', 'DescribeInstances', 'DescribeInstances', 'ModifyInstanceAttribute', 'StartInstances']);
    expect(upd.state).toBe('pending');
  });

  it('keeps the current size as minimum for what is not asked, and does nothing when the type stays', async () => {
    const c = connector();
    const vm = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({}, 'stopped')));
    ec2Mock.on(ModifyInstanceAttributeCommand).resolves({});
    await c.alterVm(vm, parseRadl(`system web (memory.size >= 4G)`).systems[0], AUTH);
    expect(count(ModifyInstanceAttributeCommand)).toBe(0);
    const upd = await c.alterVm(vm, parseRadl(`system web (memory.size >= 30G)`).systems[0], AUTH);
    expect(input(ModifyInstanceAttributeCommand).InstanceType).toEqual({ Value: 'r5.xlarge' });
    expect(upd.system.getNumber('cpu.count')).toBe(4);
    await c.alterVm(vm, parseRadl(`system web (instance_type = 'm6i.large')`).systems[0], AUTH);
    expect(input(ModifyInstanceAttributeCommand, 1).InstanceType).toEqual({ Value: 'm6i.large' });
    const same = await c.alterVm(vm, parseRadl(`system web (disk.0.os.name = 'linux')`).systems[0], AUTH);
    expect(same.state).toBe('stopped');
    expect(count(ModifyInstanceAttributeCommand)).toBe(2);
  });
});
