/**
 * Each XML-RPC method calls its use case (the one REST calls) with the decoded arguments and
 * defaults, and puts the result on the wire in the spec's shape. The use cases are mocked here;
 * the integration suite drives the real ones.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type Config } from '#core/config';
import type { Logger, Services } from '#core/types';
import { parseRadl, radlToJsonString, radlToText } from '#radl/index';
import { decodeMethodResponse, type XmlRpcValue } from '#api/xmlrpc/codec';
import { dispatchCall } from '#api/xmlrpc/dispatcher';

import { getInfrastructureList } from '#core/usecases/list';
import { createInfrastructure } from '#core/usecases/create-infrastructure';
import { getInfrastructureInfo } from '#core/usecases/get-infrastructure-info';
import { getInfrastructureContMsg } from '#core/usecases/get-infrastructure-contmsg';
import { getInfrastructureState } from '#core/usecases/get-infrastructure-state';
import { getInfrastructureRadl } from '#core/usecases/get-infrastructure-radl';
import { getVmInfo } from '#core/usecases/get-vm-info';
import { getVmProperty } from '#core/usecases/get-vm-property';
import { getVmContMsg } from '#core/usecases/get-vm-contmsg';
import { alterVm } from '#core/usecases/alter-vm';
import { destroyInfrastructure } from '#core/usecases/destroy-infrastructure';
import { addResource } from '#core/usecases/add-resource';
import { removeResource } from '#core/usecases/remove-resource';
import { startInfrastructure, stopInfrastructure } from '#core/usecases/infra-op';
import { rebootVm, startVm, stopVm } from '#core/usecases/vm-op';
import { reconfigure } from '#core/usecases/reconfigure';
import { exportInfrastructure } from '#core/usecases/export-infrastructure';
import { importInfrastructure } from '#core/usecases/import-infrastructure';
import { createDiskSnapshot } from '#core/usecases/create-snapshot';
import { getCloudImageList } from '#core/usecases/cloud-images';
import { getCloudQuotas } from '#core/usecases/cloud-quotas';
import { changeInfrastructureAuth } from '#core/usecases/change-auth';
import { getInfrastructureOwners } from '#core/usecases/get-infrastructure-owners';
import { estimateResources } from '#core/usecases/estimate';
import { getStats } from '#core/usecases/stats';

// Every use case is replaced by a mock; helpers (parseVmList, parseFilters, parseStatsDate…) stay real.
vi.mock('#core/usecases/list', async (orig) => ({ ...(await orig<object>()), getInfrastructureList: vi.fn() }));
vi.mock('#core/usecases/create-infrastructure', async (orig) => ({ ...(await orig<object>()), createInfrastructure: vi.fn() }));
vi.mock('#core/usecases/get-infrastructure-info', () => ({ getInfrastructureInfo: vi.fn() }));
vi.mock('#core/usecases/get-infrastructure-contmsg', () => ({ getInfrastructureContMsg: vi.fn() }));
vi.mock('#core/usecases/get-infrastructure-state', () => ({ getInfrastructureState: vi.fn() }));
vi.mock('#core/usecases/get-infrastructure-radl', async (orig) => ({ ...(await orig<object>()), getInfrastructureRadl: vi.fn() }));
vi.mock('#core/usecases/get-vm-info', async (orig) => ({ ...(await orig<object>()), getVmInfo: vi.fn() }));
vi.mock('#core/usecases/get-vm-property', () => ({ getVmProperty: vi.fn() }));
vi.mock('#core/usecases/get-vm-contmsg', async (orig) => ({ ...(await orig<object>()), getVmContMsg: vi.fn() }));
vi.mock('#core/usecases/alter-vm', () => ({ alterVm: vi.fn() }));
vi.mock('#core/usecases/destroy-infrastructure', () => ({ destroyInfrastructure: vi.fn() }));
vi.mock('#core/usecases/add-resource', async (orig) => ({ ...(await orig<object>()), addResource: vi.fn() }));
vi.mock('#core/usecases/remove-resource', async (orig) => ({ ...(await orig<object>()), removeResource: vi.fn() }));
vi.mock('#core/usecases/infra-op', () => ({ startInfrastructure: vi.fn(), stopInfrastructure: vi.fn() }));
vi.mock('#core/usecases/vm-op', () => ({ startVm: vi.fn(), stopVm: vi.fn(), rebootVm: vi.fn() }));
vi.mock('#core/usecases/reconfigure', async (orig) => ({ ...(await orig<object>()), reconfigure: vi.fn() }));
vi.mock('#core/usecases/export-infrastructure', () => ({ exportInfrastructure: vi.fn() }));
vi.mock('#core/usecases/import-infrastructure', () => ({ importInfrastructure: vi.fn() }));
vi.mock('#core/usecases/create-snapshot', () => ({ createDiskSnapshot: vi.fn() }));
vi.mock('#core/usecases/cloud-images', async (orig) => ({ ...(await orig<object>()), getCloudImageList: vi.fn() }));
vi.mock('#core/usecases/cloud-quotas', () => ({ getCloudQuotas: vi.fn() }));
vi.mock('#core/usecases/change-auth', () => ({ changeInfrastructureAuth: vi.fn() }));
vi.mock('#core/usecases/get-infrastructure-owners', () => ({ getInfrastructureOwners: vi.fn() }));
vi.mock('#core/usecases/estimate', async (orig) => ({ ...(await orig<object>()), estimateResources: vi.fn() }));
vi.mock('#core/usecases/stats', async (orig) => ({ ...(await orig<object>()), getStats: vi.fn() }));

const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const SERVICES = { tag: 'services' } as unknown as Services;
const AUTH: XmlRpcValue[] = [{ type: 'InfrastructureManager', username: 'user', password: 'pass\nwith newline' }, { id: 'one', type: 'Dummy' }];
/** The auth items the use cases receive: ids generated as the auth module does. */
const ITEMS = [
  { type: 'InfrastructureManager', username: 'user', password: 'pass\nwith newline', id: 'InfrastructureManager0' },
  { id: 'one', type: 'Dummy' },
];
const RADL_TEXT = "network net ( outbound = 'yes' )\nsystem node ( memory.size >= 1g and net_interface.0.connection = 'net' )";

let config: Config;

async function call(method: string, params: XmlRpcValue[]): Promise<XmlRpcValue | { fault: unknown }> {
  const reply = await dispatchCall(method, params, { config, logger: silent, services: SERVICES });
  const r = decodeMethodResponse(reply.body);
  return r.fault ? { fault: r.fault } : (r.value as XmlRpcValue);
}

beforeEach(() => {
  vi.clearAllMocks();
  config = loadConfig({});
});

describe('argument mapping and result shapes', () => {
  it('GetInfrastructureList(auth, filter?)', async () => {
    vi.mocked(getInfrastructureList).mockResolvedValue(['a', 'b']);
    expect(await call('GetInfrastructureList', [AUTH])).toEqual([true, ['a', 'b']]);
    expect(getInfrastructureList).toHaveBeenLastCalledWith(SERVICES, ITEMS, undefined);
    await call('GetInfrastructureList', [AUTH, 'web.*']);
    expect(getInfrastructureList).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'web.*');
  });

  it('CreateInfrastructure(radl, auth, async?) — RADL text, or RADL-JSON text', async () => {
    vi.mocked(createInfrastructure).mockResolvedValue('inf-1');
    expect(await call('CreateInfrastructure', [RADL_TEXT, AUTH])).toEqual([true, 'inf-1']);
    expect(createInfrastructure).toHaveBeenLastCalledWith(SERVICES, ITEMS, { text: RADL_TEXT, format: 'radl' }, { async: false });
    const json = radlToJsonString(parseRadl(RADL_TEXT));
    await call('CreateInfrastructure', [json, AUTH, true]);
    expect(createInfrastructure).toHaveBeenLastCalledWith(SERVICES, ITEMS, { text: json, format: 'json' }, { async: true });
  });

  it('GetInfrastructureInfo → VM ids as strings', async () => {
    vi.mocked(getInfrastructureInfo).mockResolvedValue([0, 2, 10]);
    expect(await call('GetInfrastructureInfo', ['inf', AUTH])).toEqual([true, ['0', '2', '10']]);
    expect(getInfrastructureInfo).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf');
  });

  it('GetInfrastructureContMsg(infId, auth, headeronly?) — log text, bad characters replaced', async () => {
    vi.mocked(getInfrastructureContMsg).mockResolvedValue('ok \u001b[31mred\u001b[0m');
    expect(await call('GetInfrastructureContMsg', ['inf', AUTH])).toEqual([true, 'ok \uFFFD[31mred\uFFFD[0m']);
    expect(getInfrastructureContMsg).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', false);
    await call('GetInfrastructureContMsg', ['inf', AUTH, true]);
    expect(getInfrastructureContMsg).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', true);
  });

  it('GetInfrastructureState → struct {state, vm_states}', async () => {
    vi.mocked(getInfrastructureState).mockResolvedValue({ state: 'running', vm_states: { '0': 'running', '1': 'pending' } });
    expect(await call('GetInfrastructureState', ['inf', AUTH])).toEqual([true, { state: 'running', vm_states: { '0': 'running', '1': 'pending' } }]);
  });

  it('GetInfrastructureRADL → RADL text', async () => {
    vi.mocked(getInfrastructureRadl).mockResolvedValue(RADL_TEXT);
    expect(await call('GetInfrastructureRADL', ['inf', AUTH])).toEqual([true, RADL_TEXT]);
  });

  it('GetVMInfo → RADL text, or RADL-JSON text with VMINFO_JSON', async () => {
    const radl = parseRadl(RADL_TEXT);
    vi.mocked(getVmInfo).mockResolvedValue(radl);
    expect(await call('GetVMInfo', ['inf', 3, AUTH])).toEqual([true, radlToText(radl)]);
    expect(getVmInfo).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', 3);
    config = { ...config, VMINFO_JSON: true };
    const [ok, text] = (await call('GetVMInfo', ['inf', '3', AUTH])) as [boolean, string];
    expect(ok).toBe(true);
    expect(JSON.parse(text)).toEqual(JSON.parse(radlToJsonString(radl)));
    expect(getVmInfo).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', '3');
  });

  it('GetVMProperty → the value (string, number, list, contains sets); absent → [false, "Incorrect property …"]', async () => {
    vi.mocked(getVmProperty).mockResolvedValueOnce('running');
    expect(await call('GetVMProperty', ['inf', '0', 'state', AUTH])).toEqual([true, 'running']);
    expect(getVmProperty).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', '0', 'state');
    vi.mocked(getVmProperty).mockResolvedValueOnce(1073741824);
    expect(await call('GetVMProperty', ['inf', '0', 'memory.size', AUTH])).toEqual([true, 1073741824]);
    vi.mocked(getVmProperty).mockResolvedValueOnce(8589934592);
    expect(await call('GetVMProperty', ['inf', '0', 'memory.size', AUTH])).toEqual([true, 8589934592]);
    vi.mocked(getVmProperty).mockResolvedValueOnce(['a', 'b']);
    expect(await call('GetVMProperty', ['inf', '0', 'x', AUTH])).toEqual([true, ['a', 'b']]);
    const apps = parseRadl("system node ( disk.0.applications contains ( name = 'app' and version = '1.0' ) )").systems[0];
    vi.mocked(getVmProperty).mockResolvedValueOnce({ contains: apps.getContains('disk.0.applications') });
    expect(await call('GetVMProperty', ['inf', '0', 'disk.0.applications', AUTH])).toEqual([true, [{ name: 'app', version: '1.0' }]]);
    vi.mocked(getVmProperty).mockResolvedValueOnce(undefined);
    expect(await call('GetVMProperty', ['inf', '0', 'nothing', AUTH])).toEqual([false, 'Incorrect property nothing for VM ID 0']);
  });

  it('GetVMContMsg → log text', async () => {
    vi.mocked(getVmContMsg).mockResolvedValue('log\n');
    expect(await call('GetVMContMsg', ['inf', 1, AUTH])).toEqual([true, 'log\n']);
    expect(getVmContMsg).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', 1);
  });

  it('AlterVM(infId, vmId, radl, auth) → RADL text of the VM', async () => {
    const radl = parseRadl(RADL_TEXT);
    vi.mocked(alterVm).mockResolvedValue(radl);
    expect(await call('AlterVM', ['inf', '0', 'system node ( cpu.count = 2 )', AUTH])).toEqual([true, radlToText(radl)]);
    expect(alterVm).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', '0', { text: 'system node ( cpu.count = 2 )', format: 'radl' });
  });

  it('DestroyInfrastructure(infId, auth, force?, async?) → ""', async () => {
    vi.mocked(destroyInfrastructure).mockResolvedValue();
    expect(await call('DestroyInfrastructure', ['inf', AUTH])).toEqual([true, '']);
    expect(destroyInfrastructure).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', { force: false, async: false });
    await call('DestroyInfrastructure', ['inf', AUTH, true, true]);
    expect(destroyInfrastructure).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', { force: true, async: true });
    await call('DestroyInfrastructure', ['inf', AUTH, null, true]);
    expect(destroyInfrastructure).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', { force: false, async: true });
  });

  it('AddResource(infId, radl, auth, context?) → new VM ids as ints', async () => {
    vi.mocked(addResource).mockResolvedValue([3, 4]);
    expect(await call('AddResource', ['inf', RADL_TEXT, AUTH])).toEqual([true, [3, 4]]);
    expect(addResource).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', { text: RADL_TEXT, format: 'radl' }, { context: true });
    await call('AddResource', ['inf', RADL_TEXT, AUTH, false]);
    expect(addResource).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', { text: RADL_TEXT, format: 'radl' }, { context: false });
  });

  it('RemoveResource(infId, "1,2", auth, context?) → int count', async () => {
    vi.mocked(removeResource).mockResolvedValue(2);
    expect(await call('RemoveResource', ['inf', '1,2', AUTH])).toEqual([true, 2]);
    expect(removeResource).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', '1,2', { context: true });
    await call('RemoveResource', ['inf', 1, AUTH, false]);
    expect(removeResource).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', 1, { context: false });
  });

  it('Stop/StartInfrastructure and Stop/Start/RebootVM → ""', async () => {
    for (const fn of [stopInfrastructure, startInfrastructure, stopVm, startVm, rebootVm]) vi.mocked(fn).mockResolvedValue('');
    expect(await call('StopInfrastructure', ['inf', AUTH])).toEqual([true, '']);
    expect(stopInfrastructure).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf');
    expect(await call('StartInfrastructure', ['inf', AUTH])).toEqual([true, '']);
    expect(startInfrastructure).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf');
    expect(await call('StopVM', ['inf', 0, AUTH])).toEqual([true, '']);
    expect(stopVm).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', 0);
    expect(await call('StartVM', ['inf', '0', AUTH])).toEqual([true, '']);
    expect(startVm).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', '0');
    expect(await call('RebootVM', ['inf', 5, AUTH])).toEqual([true, '']);
    expect(rebootVm).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', 5);
  });

  it('Reconfigure(infId, radl, auth, vm_list?) → ""', async () => {
    vi.mocked(reconfigure).mockResolvedValue('');
    expect(await call('Reconfigure', ['inf', '', AUTH])).toEqual([true, '']);
    expect(reconfigure).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', { text: '', format: 'radl' }, undefined);
    await call('Reconfigure', ['inf', '', AUTH, [0, 2]]);
    expect(reconfigure).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', { text: '', format: 'radl' }, [0, 2]);
    await call('Reconfigure', ['inf', '', AUTH, '1, 3']);
    expect(reconfigure).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', { text: '', format: 'radl' }, [1, 3]);
  });

  it('ExportInfrastructure(infId, delete, auth) / ImportInfrastructure(strInf, auth)', async () => {
    vi.mocked(exportInfrastructure).mockResolvedValue('{"id":"inf"}');
    expect(await call('ExportInfrastructure', ['inf', true, AUTH])).toEqual([true, '{"id":"inf"}']);
    expect(exportInfrastructure).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', true);
    vi.mocked(importInfrastructure).mockResolvedValue('inf');
    expect(await call('ImportInfrastructure', ['{"id":"inf"}', AUTH])).toEqual([true, 'inf']);
    expect(importInfrastructure).toHaveBeenLastCalledWith(SERVICES, ITEMS, '{"id":"inf"}');
  });

  it('CreateDiskSnapshot(infId, vmId, diskNum, imageName, autoDelete, auth) → image URL', async () => {
    vi.mocked(createDiskSnapshot).mockResolvedValue('mock0://linux.for.ev.er/img');
    expect(await call('CreateDiskSnapshot', ['inf', '0', 0, 'img', true, AUTH])).toEqual([true, 'mock0://linux.for.ev.er/img']);
    expect(createDiskSnapshot).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', '0', 0, 'img', true);
  });

  it('GetCloudImageList(cloudId, auth, filters?) → [{uri, name}]; GetCloudQuotas → struct', async () => {
    vi.mocked(getCloudImageList).mockResolvedValue([{ uri: 'mock0://x/y', name: 'y' }]);
    expect(await call('GetCloudImageList', ['one', AUTH])).toEqual([true, [{ uri: 'mock0://x/y', name: 'y' }]]);
    expect(getCloudImageList).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'one', undefined);
    await call('GetCloudImageList', ['one', AUTH, { region: 'r1', distribution: 'ubuntu' }]);
    expect(getCloudImageList).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'one', { region: 'r1', distribution: 'ubuntu' });
    await call('GetCloudImageList', ['one', AUTH, 'region=r2']);
    expect(getCloudImageList).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'one', { region: 'r2' });
    vi.mocked(getCloudQuotas).mockResolvedValue({ cores: { used: 1, limit: -1 } });
    expect(await call('GetCloudQuotas', ['one', AUTH])).toEqual([true, { cores: { used: 1, limit: -1 } }]);
  });

  it('ChangeInfrastructureAuth(infId, newAuth, overwrite, auth) → ""', async () => {
    vi.mocked(changeInfrastructureAuth).mockResolvedValue('');
    const newAuth = [{ type: 'InfrastructureManager', username: 'u2', password: 'p2' }];
    expect(await call('ChangeInfrastructureAuth', ['inf', newAuth, true, AUTH])).toEqual([true, '']);
    expect(changeInfrastructureAuth).toHaveBeenLastCalledWith(SERVICES, ITEMS, 'inf', [{ ...newAuth[0], id: 'InfrastructureManager0' }], true);
  });

  it('GetInfrastructureOwners → usernames; EstimateResources → struct; GetStats → array of structs', async () => {
    vi.mocked(getInfrastructureOwners).mockResolvedValue(['user']);
    expect(await call('GetInfrastructureOwners', ['inf', AUTH])).toEqual([true, ['user']]);
    const estimate = { one: { cloudType: 'Dummy', cloudEndpoint: '', compute: [{ cpuCores: 1, memoryInMegabytes: 1024 }], storage: [] } };
    vi.mocked(estimateResources).mockResolvedValue(estimate);
    expect(await call('EstimateResources', [RADL_TEXT, AUTH])).toEqual([true, estimate]);
    expect(estimateResources).toHaveBeenLastCalledWith(SERVICES, ITEMS, { text: RADL_TEXT, format: 'radl' });
    vi.mocked(getStats).mockResolvedValue([]);
    expect(await call('GetStats', ['2024-01-02', '', AUTH])).toEqual([true, []]);
    expect(getStats).toHaveBeenLastCalledWith(SERVICES, ITEMS, Date.UTC(2024, 0, 2), undefined);
    await call('GetStats', ['', '2024/02/03', AUTH]);
    expect(getStats).toHaveBeenLastCalledWith(SERVICES, ITEMS, undefined, Date.UTC(2024, 1, 3));
  });

  it('a result that cannot be encoded is a fault -32603 (as IM with allow_none off)', async () => {
    vi.mocked(getCloudQuotas).mockResolvedValue({ cores: { used: Number.NaN, limit: 1 } });
    const r = (await call('GetCloudQuotas', ['one', AUTH])) as { fault: { faultCode: number } };
    expect(r.fault.faultCode).toBe(-32603);
  });
});
