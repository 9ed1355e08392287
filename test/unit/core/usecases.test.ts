import { describe, expect, it } from 'vitest';
import { loadConfig } from '#core/config';
import { ImError } from '#core/errors';
import type { AuthItem, CloudConnector, InfrastructureStore, Services } from '#core/types';
import { parseRadl } from '#radl/index';
import { createConnectorRegistry } from '#connectors/registry';
import { mergeRadl } from '#core/usecases/radl-merge';
import { deployGroups, planDeploys, withDefaults } from '#core/usecases/deploy-plan';
import { parseVmIdList } from '#core/usecases/remove-resource';
import { parseVmList } from '#core/usecases/reconfigure';
import { parseFilters } from '#core/usecases/cloud-images';
import { parseStatsDate, statsToCsv } from '#core/usecases/stats';
import { cloudEndpoint } from '#core/usecases/estimate';
import { createInfrastructure } from '#core/usecases/create-infrastructure';
import { addResource } from '#core/usecases/add-resource';
import { destroyInfrastructure } from '#core/usecases/destroy-infrastructure';
import { exportInfrastructure } from '#core/usecases/export-infrastructure';
import { importInfrastructure } from '#core/usecases/import-infrastructure';
import { reconfigure } from '#core/usecases/reconfigure';
import { startVm } from '#core/usecases/vm-op';
import { stopInfrastructure } from '#core/usecases/infra-op';
import { removeResource } from '#core/usecases/remove-resource';
import { alterVm } from '#core/usecases/alter-vm';
import { createDiskSnapshot } from '#core/usecases/create-snapshot';
import { getVersion } from '#core/usecases/version';
import { createAuthServices } from '#adapters/auth-services';

const AUTH: AuthItem[] = [
  { type: 'InfrastructureManager', id: 'im', username: 'u', password: 'p' },
  { type: 'Dummy', id: 'one' },
];

class Reached extends Error {}

/** Services whose store fails with `Reached` on first use: tells whether gating let the call through. */
function services(env: Record<string, string>): Services {
  const store = new Proxy({} as InfrastructureStore, {
    get: () => async () => {
      throw new Reached('store reached');
    },
  });
  const config = loadConfig(env);
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  return {
    config,
    store,
    connectors: createConnectorRegistry({ config, logger }),
    orchestrator: { start: async () => 'x', wait: async () => 'SUCCEEDED' },
    logger,
    secrets: { seal: (s) => s, open: (s) => s },
    auth: createAuthServices({ config }),
    now: Date.now,
  };
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof Reached) return 'reached';
    if (e instanceof ImError) return `${e.code}: ${e.message}`;
    throw e;
  }
}

describe('BOOT_MODE (lifecycle.md §6)', () => {
  const radl = { text: 'system a ( cpu.count = 1 )\ndeploy a 1', format: 'radl' as const };
  const writes: [string, (s: Services) => Promise<unknown>][] = [
    ['create', (s) => createInfrastructure(s, AUTH, radl)],
    ['add', (s) => addResource(s, AUTH, 'i', radl)],
    ['remove', (s) => removeResource(s, AUTH, 'i', '0')],
    ['alter', (s) => alterVm(s, AUTH, 'i', 0, radl)],
    ['reconfigure', (s) => reconfigure(s, AUTH, 'i')],
    ['stop infra', (s) => stopInfrastructure(s, AUTH, 'i')],
    ['start vm', (s) => startVm(s, AUTH, 'i', 0)],
    ['import', (s) => importInfrastructure(s, AUTH, '{}')],
    ['snapshot', (s) => createDiskSnapshot(s, AUTH, 'i', 0, 0, 'n', false)],
  ];

  it.each(writes)('%s is refused in modes 1 and 2', async (_n, fn) => {
    expect(await outcome(fn(services({ BOOT_MODE: '1' })))).toBe('DISABLED: Function currently disabled.');
    expect(await outcome(fn(services({ BOOT_MODE: '2' })))).toBe('DISABLED: Function currently disabled.');
    expect(await outcome(fn(services({ BOOT_MODE: '0' })))).not.toMatch(/^DISABLED/);
  });

  it('destroy and export-with-delete: refused in 1 only', async () => {
    expect(await outcome(destroyInfrastructure(services({ BOOT_MODE: '1' }), AUTH, 'i'))).toBe('DISABLED: Function currently disabled.');
    expect(await outcome(destroyInfrastructure(services({ BOOT_MODE: '2' }), AUTH, 'i'))).toBe('reached');
    expect(await outcome(exportInfrastructure(services({ BOOT_MODE: '1' }), AUTH, 'i', true))).toBe('BAD_REQUEST: Function currently disabled.');
    expect(await outcome(exportInfrastructure(services({ BOOT_MODE: '1' }), AUTH, 'i', false))).toBe('reached');
    expect(await outcome(exportInfrastructure(services({ BOOT_MODE: '2' }), AUTH, 'i', true))).toBe('reached');
  });

  it('reads are allowed in every mode', () => {
    expect(getVersion(services({ BOOT_MODE: '1' }))).toBe('2.0.0');
  });
});

describe('RADL merge (AddResource step 1)', () => {
  const stored = parseRadl(`
network pub (outbound = 'yes')
system front ( cpu.count = 1 )
configure front (
@begin
- tasks: []
@end
)
contextualize ( system front configure front step 1 )
deploy front 1
`);

  it('networks ignore redefinitions, systems/configures replace, deploys are the new ones', () => {
    const merged = mergeRadl(
      stored,
      parseRadl(`network pub (outbound = 'no')\nnetwork priv ()\nsystem front ( cpu.count = 4 )\nconfigure front ()\ndeploy front 2`),
    );
    expect(merged.getNetworkById('pub')?.isPublic()).toBe(true);
    expect(merged.getNetworkById('priv')).toBeDefined();
    expect(merged.getSystemByName('front')?.getValue('cpu.count')).toBe(4);
    expect(merged.getConfigureByName('front')?.recipes).toBeNull();
    expect(merged.deploys.map((d) => [d.systemId, d.vmNumber])).toEqual([['front', 2]]);
    expect(merged.contextualize?.items).toHaveLength(1);
  });

  it('references must exist', () => {
    expect(mergeRadl(stored, parseRadl('system front\nnetwork pub\ndeploy front 1')).getSystemByName('front')?.getValue('cpu.count')).toBe(1);
    expect(() => mergeRadl(stored, parseRadl('system back\ndeploy back 1'))).toThrow("Unknown reference in RADL to system 'back'");
    expect(() => mergeRadl(stored, parseRadl('network nope\nsystem front'))).toThrow("Unknown reference in RADL to network 'nope'");
    expect(() => mergeRadl(stored, parseRadl('configure nope'))).toThrow("Unknown reference in RADL to configure 'nope'");
  });
});

describe('deploy planning (AddResource steps 2-3)', () => {
  const config = loadConfig({ DEFAULT_VM_CPUS: '2', DEFAULT_VM_MEMORY: '1', DEFAULT_VM_MEMORY_UNIT: 'G' });
  const radl = parseRadl(`
network priv ()
network priv2 ()
network pub (outbound = 'yes')
system a ( net_interface.0.connection = 'priv' and net_interface.1.connection = 'pub' )
system b ( net_interface.0.connection = 'priv' )
system c ( net_interface.0.connection = 'pub' )
system d ( net_interface.0.connection = 'priv2' )
deploy a 1
deploy b 2
deploy c 1
deploy d 1
`);

  it('adds the default cpu / memory / arch', () => {
    const s = withDefaults(radl.getSystemByName('c')!, config);
    expect(s.getNumber('cpu.count')).toBe(2);
    expect(s.getNumber('memory.size')).toBe(1e9);
    expect(s.getValue('cpu.arch')).toBe('x86_64');
  });

  it('groups deploys sharing a private network', () => {
    expect(deployGroups(radl, radl.deploys)).toEqual([[0, 1], [2], [3]]);
  });

  const dummy = (id: string): AuthItem => ({ type: 'Dummy', id });
  const plan = (clouds: AuthItem[], deploysText?: string, connectors: CloudConnector[] = [], privateNetworks: Record<string, string> = {}) => {
    const r = deploysText ? parseRadl(deploysText) : radl;
    return planDeploys({ radl: r, deploys: r.deploys, clouds, connectors: createConnectorRegistry({ config, logger: { debug() {}, info() {}, warn() {}, error() {} } }, connectors), config, privateNetworks });
  };

  it('plans one VM per deploy count, first usable cloud, pins private networks', () => {
    const p = plan([dummy('x'), dummy('y')]);
    expect(p.vms).toHaveLength(5);
    expect(new Set(p.vms.map((v) => v.cloud.id))).toEqual(new Set(['x']));
    expect(p.privateNetworks).toEqual({ priv: 'x', priv2: 'x' });
  });

  it('honours pins and reports bad ones', () => {
    const pinned = plan([dummy('x'), dummy('y')], 'network n ()\nsystem s ( net_interface.0.connection = "n" )\ndeploy s 1 y'.replaceAll('"', "'"));
    expect(pinned.vms[0].cloud.id).toBe('y');
    expect(() => plan([dummy('x')], 'system s ()\ndeploy s 1 zzz')).toThrow('No auth data for cloud with ID: zzz');
    expect(() =>
      plan([dummy('x'), dummy('y')], "network n ()\nsystem s ( net_interface.0.connection = 'n' )\nsystem t ( net_interface.0.connection = 'n' )\ndeploy s 1 x\ndeploy t 1 y"),
    ).toThrow(/different cloud providers/);
    const previous = plan([dummy('x'), dummy('y')], "network n ()\nsystem s ( net_interface.0.connection = 'n' )\ndeploy s 1", [], { n: 'y' });
    expect(previous.vms[0].cloud.id).toBe('y');
    expect(() => plan([], 'system s ()\ndeploy s 1')).toThrow('No cloud provider available');
  });

  it('no concrete system → planned failures with IM text', () => {
    const p = plan([{ type: 'DeployedNode', id: 'dn' }], 'system s ()\ndeploy s 2');
    expect(p.vms).toHaveLength(2);
    expect(p.vms[0].error).toBe('Error, no concrete system to deploy: s in cloud: dn. Check if a correct image is being used');
    const unknownType = plan([{ type: 'OpenNebula', id: 'one' }], 'system s ()\ndeploy s 1');
    expect(unknownType.vms[0].error).toMatch(/not supported/);
  });
});

describe('parameter parsers', () => {
  const msg = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };

  it('VM id lists', () => {
    expect(parseVmIdList('1,2, 2')).toEqual([1, 2]);
    expect(parseVmIdList(3)).toEqual([3]);
    expect(msg(() => parseVmIdList('1,x'))).toBe('Invalid VM ID');
    expect(parseVmList('0,3')).toEqual([0, 3]);
    expect(msg(() => parseVmList('0,,3'))).toBe('Incorrect vm_list format.');
  });

  it('image filters', () => {
    expect(parseFilters('region=us-east-1,distribution=ubuntu')).toEqual({ region: 'us-east-1', distribution: 'ubuntu' });
    expect(msg(() => parseFilters('a=b=c'))).toBe('Invalid format in filters parameter.');
  });

  it('stats dates and CSV', () => {
    expect(parseStatsDate('init_date', '2024/02/29')).toBe(Date.UTC(2024, 1, 29));
    expect(msg(() => parseStatsDate('end_date', '2023-02-29'))).toBe('Incorrect format in end_date parameter: YYYY/MM/dd');
    const csv = statsToCsv([
      {
        creation_date: '2024-01-01 00:00:00',
        tosca_name: 'a,b',
        vm_count: 1,
        cpu_count: 1,
        memory_size: 512,
        cloud_type: 'Dummy',
        cloud_host: '',
        hybrid: false,
        deleted: false,
        im_user: 'u',
        inf_id: 'i',
        last_date: '2024-01-01 00:00:00',
      },
    ]);
    expect(csv.split('\n')[1]).toBe('2024-01-01 00:00:00,"a,b",1,1,512,Dummy,,false,false,u,i,2024-01-01 00:00:00');
  });

  it('cloud endpoints', () => {
    expect(cloudEndpoint('https://keystone.example.org:5000/v3')).toBe('https://keystone.example.org:5000/v3');
    expect(cloudEndpoint('one.example.org:2633')).toBe('http://one.example.org:2633');
    expect(cloudEndpoint(undefined)).toBe('');
  });
});
