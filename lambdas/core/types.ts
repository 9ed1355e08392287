/**
 * Domain records and the ports (interfaces) of the core.
 *
 * The core talks to the outside only through these interfaces:
 *  - {@link InfrastructureStore}: persistence (DynamoDB in AWS and locally DynamoDB Local);
 *  - {@link CloudConnector}: one implementation per cloud provider;
 *  - {@link Orchestrator}: starts the Step Functions workflows (locally aws-local-stepfunctions).
 * No AWS SDK import is allowed here.
 */
import type { Radl, System } from '#radl/index';
import type { Config } from '#core/config';
import type { AuthServices } from '#core/auth-ports';
import type { DocumentFetcher } from '#tosca/documents';

// ---------------------------------------------------------------------------------------------
// Auth
// ---------------------------------------------------------------------------------------------

/** One auth item (auth.md §1): a flat string map with a mandatory `type`. */
export type AuthItem = Record<string, string> & { type: string; id?: string };

/** A validated IM identity of the caller (an `InfrastructureManager` item after check). */
export interface Identity {
  username: string;
  /** Password as given, or for OIDC the derived `<iss>/<sub>`. Never stored in clear. */
  password: string;
  /** True when the identity came from an OIDC token. */
  usedToken: boolean;
  admin: boolean;
}

/** An owner as stored: the password only as a salted hash. */
export interface OwnerRecord {
  username: string;
  /** `scrypt$<salt b64>$<hash b64>` */
  passwordHash: string;
  /** The infrastructure was created (or granted) with an OIDC token: access then needs a token too. */
  usedToken: boolean;
}

// ---------------------------------------------------------------------------------------------
// States (lifecycle.md §1)
// ---------------------------------------------------------------------------------------------

export type VmState =
  | 'pending'
  | 'running'
  | 'configured'
  | 'unconfigured'
  | 'stopped'
  | 'off'
  | 'failed'
  | 'unknown'
  | 'deleting';

export type InfraStatus = 'active' | 'deleting' | 'deleted';

/** Contextualization progress of one VM (refines running → configured / unconfigured). */
export type CtxtState = 'none' | 'pending' | 'running' | 'ok' | 'failed' | 'disabled';

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

export interface InfraRecord {
  id: string;
  /** Optimistic-locking version; every update is conditional on it. */
  version: number;
  owners: OwnerRecord[];
  /** sha256 hex of each owner username; feeds the owner index. */
  ownerKeys: string[];
  status: InfraStatus;
  /** Epoch ms. */
  createdAt: number;
  updatedAt: number;
  deletedAt?: number;
  /** TTL attribute (epoch seconds) set when deleted. */
  expiresAt?: number;
  /** The infrastructure RADL as a RADL-JSON string (lossless). */
  radl: string;
  /** Stored TOSCA YAML when created from TOSCA. */
  tosca?: string;
  /** Next VM id to hand out (ids are sequential and never reused). */
  vmCounter: number;
  /**
   * Ids of the add-resource operations in flight (destroy answers 409 while there is one). Each launch
   * removes its own id when it ends, so a launch run twice (resumed after a crash) releases nothing else.
   */
  addingOps: string[];
  /** Infra-level contextualization flag: undefined = not run yet; false = failed. */
  configured?: boolean;
  /** Private networks pinned to a cloud id (lifecycle.md §2). */
  privateNetworks: Record<string, string>;
  /** Image URLs to delete on destroy (snapshots taken with auto_delete). */
  snapshots: string[];
  /** Id of the master VM chosen for contextualization. */
  vmMaster?: number;
  /**
   * Id of the newest contextualization run (set by the runner when it starts). A runner that sees
   * another id stops: the newer run superseded it (IM's kill_ctxt_processes).
   */
  ctxtRunId?: string;
  /**
   * The cloud auth items that asynchronous work (launch, destroy, …) needs, encrypted with the
   * service key (AES-256-GCM). Never logged, never returned by any API.
   */
  cloudAuth?: string;
  /** Free-form extra information (e.g. TOSCA outputs). */
  extra?: Record<string, unknown>;
}

export interface VmRecord {
  infId: string;
  /** IM VM id: sequential per infrastructure, never reused. */
  vmId: number;
  version: number;
  /** The auth item `id` of the cloud the VM is deployed on. */
  cloudId: string;
  /** Connector type (`Dummy`, `EC2`, `DeployedNode`, …). */
  cloudType: string;
  /** Provider id (e.g. `us-east-1;i-0abc`). Absent while creating or when the launch failed. */
  providerId?: string;
  /** The RADL system name the VM was created from. */
  systemName: string;
  state: VmState;
  creating: boolean;
  /** Finalized / removed from the infrastructure: kept for id bookkeeping, hidden from lists. */
  destroyed: boolean;
  /** Deletion in progress. */
  deleting: boolean;
  /**
   * The VM's RADL (the networks it uses and its single system, with the features the IM sets:
   * state, provider.type, IPs, credentials…), as a RADL-JSON string.
   */
  info: string;
  /** The requested system (before the connector concreted it), RADL-JSON string. */
  requestedRadl?: string;
  /** Error text of a failed launch (first line of the VM's contmsg). */
  errorMsg?: string;
  ctxtState: CtxtState;
  /** Epoch ms of the last successful provider refresh. */
  lastUpdate: number;
  createdAt: number;
  /** Connector-private data (created security groups, key pair, volumes, EIP allocation …). */
  cloudData?: Record<string, unknown>;
  /** Number of launch attempts made so far. */
  launchAttempts?: number;
}

/** Where a contextualization log line belongs: the infrastructure or one VM. */
export type LogScope = 'inf' | number;

// ---------------------------------------------------------------------------------------------
// Store port
// ---------------------------------------------------------------------------------------------

/** Thrown by conditional writes when the expected version does not match. */
export class VersionConflictError extends Error {
  constructor(message = 'Version conflict') {
    super(message);
    this.name = 'VersionConflictError';
  }
}

export interface PurgeOptions {
  /** Remove deleted infrastructures whose deletedAt is before this epoch ms. */
  deletedBefore?: number;
  /** Also remove infrastructures (deleted or not) created before this epoch ms. */
  createdBefore?: number;
  /** Also remove *deleted* infrastructures created before this epoch ms (IM's delete_old_infs date). */
  deletedCreatedBefore?: number;
}

/** One update of {@link InfrastructureStore.updateVms}: the record as read, and what changes. */
export interface VmUpdateRequest {
  vm: VmRecord;
  patch: Partial<Omit<VmRecord, 'infId' | 'vmId' | 'version'>>;
}

/** Options of the infrastructure listings. */
export interface ListOptions {
  /** Only this owner's infrastructures (owner index). Without it: all (admin). */
  ownerKey?: string;
  /** Include infrastructures with status 'deleted' (never expired ones). */
  includeDeleted?: boolean;
}

/** What a store says of itself (GET /health). */
export interface StoreHealth {
  ok: boolean;
  message?: string;
}

/**
 * Persistence of infrastructures, VMs and logs. Every method may throw ImError STORE_UNAVAILABLE
 * (503) when the database does not answer.
 */
export interface InfrastructureStore {
  /**
   * Creates the record together with its first VMs (written together: never a record without its
   * VMs); fails (VersionConflictError) if the id already exists.
   */
  createInfrastructure(inf: InfraRecord, vms?: VmRecord[]): Promise<void>;
  /** Undefined when missing, purged, or past its TTL (TTL deletion is late, reads filter). */
  getInfrastructure(infId: string): Promise<InfraRecord | undefined>;
  /** Conditional update on `expectedVersion`; returns the new record (version + 1). */
  updateInfrastructure(
    infId: string,
    expectedVersion: number,
    patch: Partial<Omit<InfraRecord, 'id' | 'version'>>,
    /**
     * The record as the caller read it at `expectedVersion`, when it has it: the write is conditional on
     * that version, so a store may take it as the current record instead of reading it again.
     */
    current?: InfraRecord,
  ): Promise<InfraRecord>;
  /** Newest first. With ownerKey: only that owner's (through the owner index). */
  listInfrastructures(opts: ListOptions): Promise<InfraRecord[]>;
  /** The same, ids only (no record read). */
  listInfrastructureIds(opts: ListOptions): Promise<string[]>;
  /** Atomically reserves `count` consecutive VM ids. */
  reserveVmIds(infId: string, count: number): Promise<number[]>;
  /** Creates or replaces a VM record. */
  putVm(vm: VmRecord): Promise<void>;
  /** Creates or replaces many VM records in batches (not atomic). */
  putVms(vms: VmRecord[]): Promise<void>;
  getVm(infId: string, vmId: number): Promise<VmRecord | undefined>;
  /** All VMs (destroyed included) in id order: one query. */
  listVms(infId: string): Promise<VmRecord[]>;
  updateVm(infId: string, vmId: number, expectedVersion: number, patch: Partial<Omit<VmRecord, 'infId' | 'vmId' | 'version'>>): Promise<VmRecord>;
  /**
   * Many conditional VM updates in as few requests as the database allows (transactions of up to 100
   * items): each on the version of the record given. All of a request or none: a conflict on any VM
   * throws VersionConflictError (#core/mutate's mutateVms then retries them one by one). Returns the new
   * records, in the order given.
   */
  updateVms(updates: VmUpdateRequest[]): Promise<VmRecord[]>;
  /** Appends text to a log, in chunks so that no item grows past the DynamoDB limit. */
  appendLog(infId: string, scope: LogScope, text: string): Promise<void>;
  getLog(infId: string, scope: LogScope): Promise<string>;
  clearLog(infId: string, scope: LogScope): Promise<void>;
  /** Deletes the infrastructure item, its VMs, logs and index entries. */
  deleteInfrastructureData(infId: string): Promise<void>;
  purge(opts: PurgeOptions): Promise<{ infrastructures: number; items: number }>;
  /** Whether the database answers now (one cheap request). */
  health(): Promise<StoreHealth>;
}

// ---------------------------------------------------------------------------------------------
// Cloud connector port (lifecycle.md §8)
// ---------------------------------------------------------------------------------------------

export interface LaunchRequest {
  infId: string;
  vmId: number;
  /** The launch attempt of this VM (1, 2, …; MAX_VM_FAILS at most). */
  attempt: number;
  /**
   * `im-<infId>-<vmId>-<attempt>`: the same when an attempt is repeated after a crash. A connector
   * makes launch idempotent with it (EC2: RunInstances ClientToken; others: find the VM the token
   * names before creating one), so that an interrupted launch never leaves a second, unrecorded VM.
   */
  clientToken: string;
  /** The whole infrastructure RADL (networks, systems…), for context. */
  radl: Radl;
  /** The concrete system to launch (already chosen by concreteSystem). */
  system: System;
  auth: AuthItem;
  /** Tags to apply (instance_tags + VM_TAG_* options). */
  tags: Record<string, string>;
  /** Data of the other VMs of this cloud in the infrastructure (to reuse shared resources). */
  sharedData?: Record<string, unknown>;
}

export interface VmHandle {
  infId: string;
  vmId: number;
  providerId: string;
  /** The VM's current system (with IM-set features): the system of `radl`. */
  system: System;
  /**
   * The VM's own RADL: the networks it uses and its system (what its record holds). The same for
   * every call (refresh, stop/start, reboot, alter, snapshot, finalize); networks a connector adds
   * here (e.g. a new public network) are kept by the caller.
   */
  radl: Radl;
  cloudData?: Record<string, unknown>;
}

export interface VmUpdate {
  state: VmState;
  /** The system with refreshed features (IPs, state, instance type…). */
  system: System;
  cloudData?: Record<string, unknown>;
  /**
   * New connector messages about the VM (IM's per-VM connector log: the provider's fault text, floating-IP
   * errors); the caller appends them to the VM's log, so they show in its contmsg. Report each once.
   */
  log?: string;
}

export interface LaunchedVm extends VmUpdate {
  providerId: string;
}

export interface CloudImage {
  uri: string;
  name: string;
}

export type Quotas = Record<string, { used: number; limit: number }>;

export interface CloudConnector {
  /** The auth `type` this connector serves. */
  readonly type: string;
  /**
   * True for connectors whose VMs do not exist on any network (Dummy): their addresses are
   * placeholders, so the SSH wait never opens a connection to them and treats them as unreachable.
   */
  readonly simulated?: boolean;
  /** Candidate concrete systems for this cloud; [] when the system's image does not belong here. */
  concreteSystem(system: System, auth: AuthItem): System[];
  /** Launch one VM. Transient failures throw ImError('CLOUD_RETRYABLE'); others ImError('BAD_REQUEST'). */
  launch(req: LaunchRequest): Promise<LaunchedVm>;
  updateVmInfo(vm: VmHandle, auth: AuthItem): Promise<VmUpdate>;
  /** Idempotent: removes everything created for the VM; `last` = last VM of this cloud in the infra. */
  finalize(vm: VmHandle, last: boolean, auth: AuthItem): Promise<void>;
  /**
   * Start / stop a VM. A connector whose state lives only in the record (Dummy) returns the VM's
   * new state; otherwise (void) the caller refreshes the VM from the provider.
   */
  start(vm: VmHandle, auth: AuthItem): Promise<VmUpdate | void>;
  stop(vm: VmHandle, auth: AuthItem): Promise<VmUpdate | void>;
  reboot(vm: VmHandle, auth: AuthItem): Promise<void>;
  alterVm(vm: VmHandle, newSystem: System, auth: AuthItem): Promise<VmUpdate>;
  /** Returns the new image URL in IM form (e.g. `aws://region/ami-…`). */
  createSnapshot(vm: VmHandle, diskNum: number, imageName: string, autoDelete: boolean, auth: AuthItem): Promise<string>;
  deleteImage(imageUrl: string, auth: AuthItem): Promise<void>;
  listImages(auth: AuthItem, filters: Record<string, string>): Promise<CloudImage[]>;
  getQuotas(auth: AuthItem): Promise<Quotas>;
  /**
   * Optional batch refresh: several VMs of one infrastructure on the cloud of `auth`, read with as few provider
   * calls as the cloud allows (OpenStack: one server list). One result per VM, in order: its update, or the error
   * that VM's `updateVmInfo` would have thrown. The core uses it when several VMs are due at once.
   */
  updateVmsInfo?(vms: VmHandle[], auth: AuthItem): Promise<(VmUpdate | Error)[]>;
  /**
   * Optional: the concrete system with what the cloud would choose for it at launch (OpenStack: the flavor and
   * its cpu / memory / disk), asking the provider but creating nothing. Used by dry-run estimates.
   */
  estimateSystem?(system: System, auth: AuthItem): Promise<System>;
}

/** Maps an auth item type to its connector. */
export interface ConnectorRegistry {
  get(type: string): CloudConnector | undefined;
  types(): string[];
}

// ---------------------------------------------------------------------------------------------
// Orchestration port
// ---------------------------------------------------------------------------------------------

/** One ASL file each, in statemachines/<name>.asl.json. */
export type WorkflowName = 'launch' | 'destroy' | 'remove' | 'stop' | 'start' | 'contextualize';

/** Executions carry ids only (never documents). */
export interface WorkflowInput {
  infId: string;
  vmIds?: number[];
  [k: string]: string | number | boolean | number[] | undefined;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/** What an execution ended with (the flows end in a Fail state with an IM message as cause on errors). */
export interface ExecutionResult {
  status: ExecutionStatus;
  /** The execution's output when SUCCEEDED. */
  output?: unknown;
  /** Error name and cause when FAILED (e.g. `DestroyFailed`, `Error destroying the infrastructure: …`). */
  error?: string;
  cause?: string;
}

/** A running execution as the journal keeps it (local mode's durable orchestrator). */
export interface ExecutionRecord {
  id: string;
  workflow: WorkflowName;
  input: WorkflowInput;
  /** Epoch ms of the first start. */
  startedAt: number;
  /** How many times a restart has resumed it. */
  resumes: number;
}

/** Where running executions are recorded, so that a restart knows them. */
export interface ExecutionJournal {
  record(e: ExecutionRecord): Promise<void>;
  resumed(id: string, resumes: number): Promise<void>;
  remove(id: string): Promise<void>;
  listRunning(): Promise<ExecutionRecord[]>;
}

export interface Orchestrator {
  start(workflow: WorkflowName, input: WorkflowInput): Promise<string>;
  /** Waits up to timeoutMs; returns the status at that moment (RUNNING if still going). */
  wait(executionId: string, timeoutMs: number): Promise<ExecutionStatus>;
  /** Status and output / error of an execution (both orchestrators implement it). */
  describe?(executionId: string): Promise<ExecutionResult>;
}

// ---------------------------------------------------------------------------------------------
// What every use case receives
// ---------------------------------------------------------------------------------------------

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface Services {
  config: Config;
  store: InfrastructureStore;
  connectors: ConnectorRegistry;
  orchestrator: Orchestrator;
  logger: Logger;
  /** Encrypts / decrypts the stored cloud auth (AES-256-GCM with the service key). */
  secrets: SecretBox;
  /** Sign-in: OIDC token verification, Vault, USER_DB, owner password checks (lambdas/core/auth-ports.ts). */
  auth: AuthServices;
  now(): number;
  /** Reads the documents TOSCA templates name (default: TOSCA_URL_DIR / HTTPS from the config). */
  documents?: DocumentFetcher;
}

export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}
