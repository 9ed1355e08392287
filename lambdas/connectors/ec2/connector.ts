/**
 * The Amazon EC2 connector (auth type `EC2`): one instance per IM VM, in the region of the image URL
 * `aws://<region>/<ami-…|snap-…>`; provider id `<region>;<instance-id>`.
 *
 * What it creates per VM, recorded in the VM's `cloudData` (cloud-data.ts) so that finalize removes
 * exactly that, idempotently:
 *  - one security group per RADL network (`im-<infId>-<netId>` or the network's `sg_name`), shared by the VMs
 *    of the infrastructure, tagged `IM-INFRA-ID` and deleted with the last VM (or with any VM once no other
 *    instance of the infrastructure is left in the region) — security-groups.ts;
 *  - a key pair `im-<infId>-<vmId>` (created, or imported from the RADL public key), deleted with its VM — keys.ts;
 *  - an Elastic IP when a public interface fixes `net_interface.N.ip` (allocated unless it is already in the
 *    account), released (or only disassociated, when it was the user's) with its VM — addresses.ts;
 *  - an AMI registered from a snapshot when the image URL names a `snap-…`, deregistered with its VM — images.ts;
 *  - EBS volumes: every mapping is DeleteOnTermination, and any volume that is not (found on the instance)
 *    is deleted after termination — volumes.ts.
 * The connector itself only wires the parts together; see docs/CONNECTORS.md for the contract.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { System } from '#radl/index';
import type { Config } from '#core/config';
import type { AuthItem, CloudConnector, CloudImage, LaunchedVm, LaunchRequest, Logger, Quotas, VmHandle, VmUpdate } from '#core/types';
import { ec2ConcreteSystem } from '#connectors/ec2/concrete-system';
import {
  defaultClientFactory,
  defaultQuotasFactory,
  requireCredentials,
  type Ec2ClientFactory,
  type Ec2Context,
  type QuotasClientFactory,
} from '#connectors/ec2/context';
import { finalizeVm } from '#connectors/ec2/finalize';
import { createSnapshot, deleteImage, listImages } from '#connectors/ec2/images';
import { launchVm } from '#connectors/ec2/launch';
import { alterVm, powerOperation } from '#connectors/ec2/power';
import { getQuotas } from '#connectors/ec2/quotas';
import { refreshVm, refreshVms } from '#connectors/ec2/state';

/** What the connector is built with: the caller's config and logger, and injectable pieces for tests. */
export interface Ec2ConnectorOptions {
  /** The service's validated options (PRIVATE_NET_MASKS, VM_TAG_USERNAME, …). */
  config: Config;
  /** Where the connector logs (never an auth item's value). */
  logger: Logger;
  /** Builds the EC2 client of a region. Default: SDK client with the auth item's keys. */
  clientFactory?: Ec2ClientFactory;
  /** Builds the Service Quotas client of a region. */
  quotasFactory?: QuotasClientFactory;
  /** Waits between polls (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** Poll interval while waiting for an instance state or a security group to be free (default 5000 ms). */
  pollIntervalMs?: number;
  /** Maximum polls while waiting for termination / stop (default 36, i.e. 3 minutes at 5 s: a finalize with its
   * security-group retries stays within the 5-minute tasks Lambda; a slower termination is CLOUD_RETRYABLE and
   * the next attempt resumes the wait). */
  maxPolls?: number;
  /** Attempts to delete a security group that is still in use (DependencyViolation), default 8. */
  sgDeleteAttempts?: number;
  /**
   * How alterVm treats a running VM: `refuse` (default) answers 400 asking to stop it first (changing the type of
   * a running instance means stop + modify + start, which does not fit in a synchronous API call); `restart`
   * stops it, waits (bounded), modifies and starts it again.
   */
  alterRunning?: 'refuse' | 'restart';
}

/** The EC2 connector. */
export class Ec2Connector implements CloudConnector {
  readonly type = 'EC2';
  private readonly ctx: Ec2Context;

  constructor(opts: Ec2ConnectorOptions) {
    const clientFactory = opts.clientFactory ?? defaultClientFactory;
    const quotasFactory = opts.quotasFactory ?? defaultQuotasFactory;
    this.ctx = {
      config: opts.config,
      logger: opts.logger,
      sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      pollIntervalMs: opts.pollIntervalMs ?? 5000,
      maxPolls: opts.maxPolls ?? 36,
      sgDeleteAttempts: opts.sgDeleteAttempts ?? 8,
      alterRunning: opts.alterRunning ?? 'refuse',
      client: (region: string, auth: AuthItem): EC2Client => {
        requireCredentials(auth);
        return clientFactory(region, auth);
      },
      quotasClient: quotasFactory,
    };
  }

  /**
   * One candidate per `aws://` URL of `disk.0.image.url` ([] when none): the system with that URL,
   * `provider.type = 'EC2'` and the default username `cloudadm`. Throws BAD_REQUEST when no instance type of
   * the table (of either architecture — the AMI decides at launch) satisfies the requirements.
   */
  concreteSystem(system: System, _auth: AuthItem): System[] {
    return ec2ConcreteSystem(system);
  }

  /** One instance for the VM; a failure rolls back what it created (launch.ts). */
  launch(req: LaunchRequest): Promise<LaunchedVm> {
    return launchVm(this.ctx, req);
  }

  /** State, addresses, instance type and launch time of the VM's instance (state.ts). */
  updateVmInfo(vm: VmHandle, auth: AuthItem): Promise<VmUpdate> {
    return refreshVm(this.ctx, vm, auth);
  }

  /** Several VMs with one DescribeInstances per region (state.ts). */
  updateVmsInfo(vms: VmHandle[], auth: AuthItem): Promise<(VmUpdate | Error)[]> {
    return refreshVms(this.ctx, vms, auth);
  }

  /** Removes what was created for the VM; the infrastructure's security groups with the last one (finalize.ts). */
  finalize(vm: VmHandle, last: boolean, auth: AuthItem): Promise<void> {
    return finalizeVm(this.ctx, vm, last, auth);
  }

  /** StartInstances. */
  start(vm: VmHandle, auth: AuthItem): Promise<void> {
    return powerOperation(this.ctx, vm, auth, 'start');
  }

  /** StopInstances (one-time spot instances cannot be stopped: EC2's error is returned as 400). */
  stop(vm: VmHandle, auth: AuthItem): Promise<void> {
    return powerOperation(this.ctx, vm, auth, 'stop');
  }

  /** RebootInstances. */
  reboot(vm: VmHandle, auth: AuthItem): Promise<void> {
    return powerOperation(this.ctx, vm, auth, 'reboot');
  }

  /** A new instance type for a stopped VM (power.ts). */
  alterVm(vm: VmHandle, newSystem: System, auth: AuthItem): Promise<VmUpdate> {
    return alterVm(this.ctx, vm, newSystem, auth);
  }

  /** CreateImage (disk 0) or CreateSnapshot (disk N) → an `aws://` image URL (images.ts). */
  createSnapshot(vm: VmHandle, diskNum: number, imageName: string, _autoDelete: boolean, auth: AuthItem): Promise<string> {
    return createSnapshot(this.ctx, vm, diskNum, imageName, auth);
  }

  /** Deregisters an AMI and deletes its snapshots, or deletes a snapshot (images.ts). */
  deleteImage(url: string, auth: AuthItem): Promise<void> {
    return deleteImage(this.ctx, url, auth);
  }

  /** The available machine images of a region (images.ts). */
  listImages(auth: AuthItem, filters: Record<string, string>): Promise<CloudImage[]> {
    return listImages(this.ctx, auth, filters);
  }

  /** IM's quota map of the auth item's region (quotas.ts). */
  getQuotas(auth: AuthItem): Promise<Quotas> {
    return getQuotas(this.ctx, auth);
  }
}
