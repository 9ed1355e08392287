/**
 * The OpenStack connector (auth type `OpenStack`): Keystone v3 / v2.0 sign-in, Nova servers booted from
 * `ost://<server>/<image>` images, Neutron networks / security groups / floating IPs, Cinder volumes, over plain
 * HTTPS (lambdas/connectors/openstack/http.ts). One concern per file in this folder; docs/CONNECTORS.md has the
 * behaviour and what differs from IM.
 */
import type { Config } from '#core/config';
import { ImError } from '#core/errors';
import type { AuthItem, CloudConnector, CloudImage, LaunchedVm, LaunchRequest, Logger, Quotas, VmHandle, VmUpdate } from '#core/types';
import type { System } from '#radl/index';
import { nodeHttpTransport, type HttpTransport } from '#connectors/openstack/http';
import { TokenCache } from '#connectors/openstack/session';
import { FlavorCache, selectFlavor, applyFlavor } from '#connectors/openstack/flavors';
import { DEFAULT_TIMING, sessionFor, type OstEnv, type OstTiming } from '#connectors/openstack/env';
import { KeyedLock } from '#connectors/openstack/util';
import { openstackConcreteSystem } from '#connectors/openstack/concrete';
import { launch } from '#connectors/openstack/launch';
import { refreshMany, refreshOne } from '#connectors/openstack/refresh';
import { finalize } from '#connectors/openstack/finalize';
import { alterVm, createSnapshot, deleteImage, getQuotas, powerAction } from '#connectors/openstack/operations';
import { listImages } from '#connectors/openstack/images';
import { errorText, toImError } from '#connectors/openstack/errors';
import { itemSecrets } from '#connectors/openstack/auth-item';

export interface OpenStackConnectorOptions {
  config: Pick<Config, 'PRIVATE_NET_MASKS' | 'VERIFI_SSL'>;
  logger: Logger;
  /** HTTP transport (default: node:http/https, TLS verified iff VERIFI_SSL). */
  http?: HttpTransport;
  /** Per-request timeout of the default transport (ms, default 30 000). */
  requestTimeoutMs?: number;
  timing?: Partial<OstTiming>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export class OpenStackConnector implements CloudConnector {
  readonly type = 'OpenStack';
  private readonly env: OstEnv;

  constructor(opts: OpenStackConnectorOptions) {
    this.env = {
      http: opts.http ?? nodeHttpTransport({ verifyTls: opts.config.VERIFI_SSL, timeoutMs: opts.requestTimeoutMs ?? 30_000 }),
      tokens: new TokenCache(),
      flavors: new FlavorCache(),
      lock: new KeyedLock(),
      config: opts.config,
      logger: opts.logger,
      timing: { ...DEFAULT_TIMING, ...(opts.timing ?? {}) },
      sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      now: opts.now ?? Date.now,
    };
    if (!opts.config.VERIFI_SSL) opts.logger.debug('OpenStack: TLS certificates of the clouds are not verified (VERIFI_SSL = false)');
  }

  concreteSystem(system: System, auth: AuthItem): System[] {
    return openstackConcreteSystem(system, auth);
  }

  launch(req: LaunchRequest): Promise<LaunchedVm> {
    return launch(this.env, req);
  }

  async updateVmInfo(vm: VmHandle, auth: AuthItem): Promise<VmUpdate> {
    return this.guard(auth, 'Error updating the VM info', () => refreshOne(this.env, vm, auth));
  }

  async updateVmsInfo(vms: VmHandle[], auth: AuthItem): Promise<(VmUpdate | Error)[]> {
    if (vms.length === 1) return [await this.updateVmInfo(vms[0], auth).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))];
    return this.guard(auth, 'Error updating the VM info', () => refreshMany(this.env, vms, auth));
  }

  finalize(vm: VmHandle, last: boolean, auth: AuthItem): Promise<void> {
    return this.guard(auth, 'Error removing resources', () => finalize(this.env, vm, last, auth));
  }

  start(vm: VmHandle, auth: AuthItem): Promise<void> {
    return this.guard(auth, 'Error in start operation', () => powerAction(this.env, vm, auth, 'start'));
  }

  stop(vm: VmHandle, auth: AuthItem): Promise<void> {
    return this.guard(auth, 'Error in stop operation', () => powerAction(this.env, vm, auth, 'stop'));
  }

  reboot(vm: VmHandle, auth: AuthItem): Promise<void> {
    return this.guard(auth, 'Error in reboot operation', () => powerAction(this.env, vm, auth, 'reboot'));
  }

  alterVm(vm: VmHandle, newSystem: System, auth: AuthItem): Promise<VmUpdate> {
    return this.guard(auth, 'Error resizing VM', () => alterVm(this.env, vm, newSystem, auth));
  }

  createSnapshot(vm: VmHandle, _diskNum: number, imageName: string, _autoDelete: boolean, auth: AuthItem): Promise<string> {
    return this.guard(auth, 'Error creating image', () => createSnapshot(this.env, vm, imageName, auth));
  }

  deleteImage(imageUrl: string, auth: AuthItem): Promise<void> {
    return this.guard(auth, 'Error deleting image.', () => deleteImage(this.env, imageUrl, auth));
  }

  listImages(auth: AuthItem, filters: Record<string, string>): Promise<CloudImage[]> {
    return this.guard(auth, 'Error listing the images', () => {
      const s = sessionFor(this.env, auth);
      return listImages(s, s.auth.host.server, filters);
    });
  }

  getQuotas(auth: AuthItem): Promise<Quotas> {
    return this.guard(auth, 'Error getting the quotas', () => getQuotas(this.env, auth));
  }

  /** The concrete system with the flavor the launch would choose (dry-run estimates): Keystone + flavor calls only. */
  estimateSystem(system: System, auth: AuthItem): Promise<System> {
    return this.guard(auth, 'Error estimating the resources', async () => {
      const s = sessionFor(this.env, auth);
      const out = system.clone();
      const flavor = await selectFlavor(s, await this.env.flavors.list(s, this.env.now()), out);
      if (!flavor) throw new ImError('BAD_REQUEST', 'No flavor found for the specified VM requirements.');
      applyFlavor(out, flavor);
      return out;
    });
  }

  /** Any non-ImError (Keystone, API, network) → ImError with a text free of the item's secrets. */
  private async guard<T>(auth: AuthItem, context: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ImError) {
        const secrets = itemSecrets(auth);
        const text = errorText(err, secrets);
        return Promise.reject(text === err.message ? err : new ImError(err.code, text));
      }
      const text = errorText(err, itemSecrets(auth));
      this.env.logger.warn('OpenStack call failed', { context, error: text });
      throw toImError(err, text.startsWith('Error') || text.startsWith("'") ? text : `${context}: ${text}`, 'op');
    }
  }
}
