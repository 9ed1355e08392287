/**
 * The moto helper itself: it finds moto 5, refuses clearly without it, and its server speaks EC2 and stops.
 */
import { AllocateAddressCommand, DescribeAddressesCommand, DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { motoCommand, startMoto } from '../../helpers/moto.ts';

describe('test/helpers/moto.ts', () => {
  it('fails with a clear message when python has no moto 5', () => {
    expect(() => motoCommand('/nonexistent/python3')).toThrow(/^moto 5 is required: install it with `pip install "moto\[server\]>=5"`/);
  });

  it('starts moto on a free loopback port, resets it and stops it', async () => {
    expect(motoCommand().cmd).toMatch(/moto_server|python3/);
    const moto = await startMoto();
    expect(moto.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const ec2 = moto.client('eu-west-1');
    const regions = await ec2.send(new DescribeRegionsCommand({}));
    expect(regions.Regions?.map((r) => r.RegionName)).toContain('eu-west-1');
    await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    expect((await ec2.send(new DescribeAddressesCommand({}))).Addresses).toHaveLength(1);
    await moto.reset();
    expect((await ec2.send(new DescribeAddressesCommand({}))).Addresses).toHaveLength(0);
    await moto.stop();
    await expect(fetch(`${moto.endpoint}/moto-api/`)).rejects.toThrow();
  });
});
