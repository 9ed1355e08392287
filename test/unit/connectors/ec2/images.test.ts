/**
 * The EC2 connector against the mocked EC2 API (mock-ec2.ts). Images: snapshots of disks (CreateImage /
 * CreateSnapshot), their deletion, and the image list with its filters.
 */
import {
  CreateImageCommand,
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { parseRadl } from '#radl/index';
import type { VmHandle } from '#core/types';
import { AUTH, connector, ec2Error, ec2Mock, IID, INF, input, RADL_TEXT, rejection, sequence, useMockCloud } from './mock-ec2.ts';

useMockCloud();

describe('images', () => {
  const vm = (): VmHandle => {
    const radl = parseRadl(RADL_TEXT);
    return { infId: INF, vmId: 2, providerId: `us-east-1;${IID}`, system: radl.systems[0], radl };
  };

  it('creates an AMI of disk 0 and a snapshot of a data disk', async () => {
    ec2Mock.on(CreateImageCommand).resolves({ ImageId: 'ami-0snap' });
    ec2Mock.on(CreateSnapshotCommand).resolves({ SnapshotId: 'snap-0d1', VolumeId: 'vol-data', State: 'pending' });
    const c = connector();
    expect(await c.createSnapshot(vm(), 0, 'my-image', true, AUTH)).toBe('aws://us-east-1/ami-0snap');
    const tags = [
      { Key: 'Name', Value: 'my-image' },
      { Key: 'IM-INFRA-ID', Value: INF },
    ];
    expect(input(CreateImageCommand)).toEqual({
      InstanceId: IID,
      Name: 'my-image',
      Description: `Created by the IM from VM 2 of infrastructure ${INF}`,
      NoReboot: true,
      TagSpecifications: [
        { ResourceType: 'image', Tags: tags },
        { ResourceType: 'snapshot', Tags: tags },
      ],
    });
    expect(await c.createSnapshot(vm(), 1, 'data', false, AUTH)).toBe('aws://us-east-1/snap-0d1');
    expect(input(CreateSnapshotCommand)).toEqual({
      VolumeId: 'vol-data',
      Description: 'data',
      TagSpecifications: [
        {
          ResourceType: 'snapshot',
          Tags: [
            { Key: 'Name', Value: 'data' },
            { Key: 'IM-INFRA-ID', Value: INF },
          ],
        },
      ],
    });
    const err = await rejection(c.createSnapshot(vm(), 3, 'x', false, AUTH));
    expect(err.message).toMatch(/Disk 3 \(\/dev\/sdd\) not found in VM 2/);
  });

  it('deletes an AMI with its snapshots, and a snapshot URL; idempotently', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-0snap',
          BlockDeviceMappings: [
            { DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-a' } },
            { DeviceName: '/dev/sdf', Ebs: { SnapshotId: 'snap-b' } },
            { DeviceName: '/dev/sdg', VirtualName: 'ephemeral0' },
          ],
        },
      ],
    });
    const c = connector();
    await c.deleteImage('aws://us-east-1/ami-0snap', AUTH);
    expect(sequence()).toEqual(['DescribeImages', 'DeregisterImage', 'DeleteSnapshot', 'DeleteSnapshot']);
    expect(input(DeregisterImageCommand)).toEqual({ ImageId: 'ami-0snap' });
    expect([input(DeleteSnapshotCommand, 0), input(DeleteSnapshotCommand, 1)]).toEqual([{ SnapshotId: 'snap-a' }, { SnapshotId: 'snap-b' }]);

    ec2Mock.resetHistory();
    ec2Mock.on(DescribeImagesCommand).rejects(ec2Error('InvalidAMIID.NotFound'));
    ec2Mock.on(DeregisterImageCommand).rejects(ec2Error('InvalidAMIID.NotFound'));
    await c.deleteImage('aws://us-east-1/ami-0snap', AUTH);
    ec2Mock.on(DeleteSnapshotCommand).rejects(ec2Error('InvalidSnapshot.NotFound'));
    await c.deleteImage('aws://eu-west-1/snap-0d1', AUTH);
    expect(input(DeleteSnapshotCommand)).toEqual({ SnapshotId: 'snap-0d1' });
    expect((await rejection(c.deleteImage('one://host/1', AUTH))).code).toBe('BAD_REQUEST');
  });

  it('lists the images of a region with filters, newest first', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({
      Images: [
        { ImageId: 'ami-old', Name: 'ubuntu-22.04-old', CreationDate: '2024-01-01T00:00:00.000Z' },
        { ImageId: 'ami-new', Name: 'ubuntu-22.04-new', CreationDate: '2025-01-01T00:00:00.000Z' },
      ],
    });
    const c = connector();
    const out = await c.listImages(AUTH, { region: 'eu-west-1', name: 'ubuntu*', architecture: 'arm64' });
    expect(out).toEqual([
      { uri: 'aws://eu-west-1/ami-new', name: 'ubuntu-22.04-new' },
      { uri: 'aws://eu-west-1/ami-old', name: 'ubuntu-22.04-old' },
    ]);
    expect(input(DescribeImagesCommand)).toEqual({
      Owners: ['self', 'amazon'],
      Filters: [
        { Name: 'state', Values: ['available'] },
        { Name: 'image-type', Values: ['machine'] },
        { Name: 'name', Values: ['ubuntu*'] },
        { Name: 'architecture', Values: ['arm64'] },
      ],
      MaxResults: 1000,
    });
    expect(await (ec2Mock.call(0).thisValue as EC2Client).config.region()).toBe('eu-west-1');
    await c.listImages({ ...AUTH, region: 'ap-south-1' }, { distribution: 'ubuntu', version: '22.04', owners: '099720109477' });
    expect(input(DescribeImagesCommand, 1)).toMatchObject({ Owners: ['099720109477'], Filters: expect.arrayContaining([{ Name: 'name', Values: ['*ubuntu*22.04*'] }]) });
    expect(await (ec2Mock.call(1).thisValue as EC2Client).config.region()).toBe('ap-south-1');
  });
});
