/** The built-in registry serves OpenStack lazily (SDK-free concreteSystem, real connector on first async call). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '#core/config';
import { createConnectorRegistry } from '#connectors/registry';
import { System } from '#radl/index';
import { FakeOpenStack } from '../../../helpers/fake-openstack/server.ts';
import { authItem, logCapture } from './helpers.ts';

let fake: FakeOpenStack;
beforeAll(async () => {
  fake = await FakeOpenStack.start();
});
afterAll(async () => fake.stop());

describe('registry', () => {
  it('has OpenStack, with the batch refresh and estimate methods, working against a cloud', async () => {
    const { logger } = logCapture();
    const reg = createConnectorRegistry({ config: loadConfig({}), logger });
    const os = reg.get('OpenStack');
    expect(os).toBeDefined();
    expect(typeof os?.updateVmsInfo).toBe('function');
    expect(typeof os?.estimateSystem).toBe('function');
    const s = new System('s');
    s.setValue('disk.0.image.url', 'ost://127.0.0.1/img-cirros');
    expect(os?.concreteSystem(s, authItem(fake))).toHaveLength(1);
    const images = await os?.listImages(authItem(fake), { distribution: 'centos' });
    expect(images).toEqual([{ uri: 'ost://127.0.0.1/img-centos-7', name: 'CentOS 7' }]);
    // EC2 registers its batch refresh too, and no estimate.
    expect(typeof reg.get('EC2')?.updateVmsInfo).toBe('function');
    expect(reg.get('EC2')?.estimateSystem).toBeUndefined();
  });
});
