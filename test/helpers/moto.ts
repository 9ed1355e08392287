/**
 * moto 5 (`moto_server`) as the EC2 test double: one server per test file, on a free loopback port, with
 * fake credentials. It implements the EC2 API over HTTP with EC2's shapes and error codes (RunInstances
 * goes pending → running, DescribeImages has Amazon's AMIs, default VPC and subnets, security groups,
 * key pairs, addresses, volumes, snapshots, CreateImage).
 *
 *   let moto: MotoServer;
 *   beforeAll(async () => { moto = await startMoto(); });    // ~2-4 s (Python start-up)
 *   afterAll(async () => { await moto?.stop(); });
 *
 *   new Ec2Connector({ config, logger, clientFactory: moto.clientFactory, quotasFactory: moto.quotasFactory })
 *
 * A missing moto fails with "moto 5 is required: …" (the CI image has it; scripts/ensure-system-deps.sh
 * checks it first). The server is killed when the test process exits, whatever happens.
 *
 * Where moto differs from real EC2 and the connector follows EC2's API reference, the clients built here
 * bridge the gap and record it in `gaps` (see MOTO_GAPS), so that a test can show what the connector sent.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import {
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  EC2Client,
  type CreateImageCommandInput,
  type RunInstancesCommandInput,
  type TagSpecification,
} from '@aws-sdk/client-ec2';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import type { AuthItem } from '#core/types';

/** Known differences between moto 5 and EC2 that the helper's clients bridge. */
export const MOTO_GAPS = {
  /**
   * CreateImage with a `snapshot` TagSpecification: EC2 tags the AMI's snapshots (API reference, CreateImage
   * "TagSpecifications"); moto raises NotImplementedError (HTTP 500). The helper drops that entry.
   */
  createImageSnapshotTags: 'CreateImage TagSpecifications ResourceType=snapshot',
  /**
   * RunInstances BlockDeviceMappings on a device of the AMI with neither VolumeSize nor SnapshotId (e.g. only
   * DeleteOnTermination): EC2 takes the AMI's snapshot and size for it (API reference, EbsBlockDevice; "Block
   * device mappings" in the EC2 user guide); moto answers MissingParameter. The helper fills in the AMI's
   * SnapshotId and VolumeSize, as EC2 does.
   */
  amiDeviceMappings: 'RunInstances BlockDeviceMappings without size or snapshot on an AMI device',
  /**
   * RegisterImage: EC2 registers the AMI on the given snapshot (its BlockDeviceMappings) and creates no
   * snapshot; moto keeps only the name and description and gives every AMI a snapshot of its own
   * ("Auto-created snapshot for AMI …"), which DeregisterImage leaves. motoInventory does not count those.
   */
  registerImageSnapshot: 'RegisterImage BlockDeviceMappings / auto-created AMI snapshots',
} as const;

export interface MotoServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** EC2 client factory for the connector: the auth item's keys, moto's endpoint, no retries of 5xx. */
  clientFactory: (region: string, auth: AuthItem) => EC2Client;
  /** Service Quotas client factory for the connector. */
  quotasFactory: (region: string, auth: AuthItem) => ServiceQuotasClient;
  /** A client for the test's own checks (fake credentials). */
  client(region?: string): EC2Client;
  /** Gaps bridged so far (MOTO_GAPS values, with the operation's details). */
  gaps: string[];
  /** Drops every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** The fake auth item of the moto tests (moto accepts any keys). */
export const MOTO_AUTH: AuthItem = { id: 'aws', type: 'EC2', username: 'AKIAMOTOFAKEKEY00000', password: 'motoFakeSecretKeyThatMustNeverLeak0000' };

const REQUIRED = 'moto 5 is required: install it with `pip install "moto[server]>=5"` (the CI image has it; scripts/ensure-system-deps.sh checks it)';

/** The command that runs moto's server: `moto_server`, else `python3 -m moto.server`; throws when moto 5 is missing. */
export function motoCommand(python = 'python3'): { cmd: string; args: string[] } {
  const version = spawnSync(python, ['-c', 'import moto, moto.server; print(moto.__version__)'], { encoding: 'utf8' });
  const v = version.status === 0 ? version.stdout.trim() : '';
  const major = Number(v.split('.')[0]);
  if (!v || !(major >= 5)) throw new Error(`${REQUIRED} (found: ${v || 'none'}${version.stderr ? `; ${version.stderr.trim().split('\n').pop()}` : ''})`);
  const onPath = python === 'python3' && spawnSync('moto_server', ['--help'], { encoding: 'utf8' }).status === 0;
  return onPath ? { cmd: 'moto_server', args: [] } : { cmd: python, args: ['-m', 'moto.server'] };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`);
    try {
      // Any HTTP answer means the server listens (moto answers unknown paths with 404).
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs / 1000} s`);
}

/** Makes moto's answer what EC2's would be, for the requests listed in MOTO_GAPS. */
function bridgeGaps(client: EC2Client, gaps: string[], plain: EC2Client): EC2Client {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'CreateImageCommand') {
        const input = args.input as CreateImageCommandInput;
        if (input.TagSpecifications?.some((t: TagSpecification) => t.ResourceType === 'snapshot')) {
          gaps.push(MOTO_GAPS.createImageSnapshotTags);
          input.TagSpecifications = input.TagSpecifications.filter((t: TagSpecification) => t.ResourceType !== 'snapshot');
        }
      }
      if (context.commandName === 'RunInstancesCommand') {
        const input = args.input as RunInstancesCommandInput;
        const bare = (input.BlockDeviceMappings ?? []).filter((m) => m.Ebs && m.Ebs.VolumeSize === undefined && m.Ebs.SnapshotId === undefined);
        if (bare.length && input.ImageId) {
          const image = (await plain.send(new DescribeImagesCommand({ ImageIds: [input.ImageId] }))).Images?.[0];
          for (const m of bare) {
            const own = image?.BlockDeviceMappings?.find((d) => d.DeviceName === m.DeviceName)?.Ebs;
            if (!own || !m.Ebs) continue;
            gaps.push(MOTO_GAPS.amiDeviceMappings);
            m.Ebs = { ...m.Ebs, ...(own.SnapshotId ? { SnapshotId: own.SnapshotId } : {}), ...(own.VolumeSize ? { VolumeSize: own.VolumeSize } : {}) };
          }
        }
      }
      return next(args);
    },
    { step: 'initialize', name: 'motoGaps' },
  );
  return client;
}

/** Starts moto_server on a free loopback port (a port taken meanwhile is retried on another). */
export async function startMoto(): Promise<MotoServer> {
  const { cmd, args } = motoCommand();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn(cmd, [...args, '-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const kill = () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    };
    process.once('exit', kill);
    try {
      await waitReady(endpoint, child, 30_000);
    } catch (err) {
      lastError = new Error(`${(err as Error).message}\n${stderr}`);
      kill();
      process.removeListener('exit', kill);
      continue;
    }
    const gaps: string[] = [];
    const credentials = (auth: AuthItem) => ({ accessKeyId: auth.username, secretAccessKey: auth.password, ...(auth.token ? { sessionToken: auth.token } : {}) });
    const client = (region = 'us-east-1') => new EC2Client({ region, endpoint, credentials: credentials(MOTO_AUTH), maxAttempts: 1 });
    return {
      endpoint,
      gaps,
      clientFactory: (region, auth) => bridgeGaps(new EC2Client({ region, endpoint, credentials: credentials(auth), maxAttempts: 1 }), gaps, client(region)),
      quotasFactory: (region, auth) => new ServiceQuotasClient({ region, endpoint, credentials: credentials(auth), maxAttempts: 1 }),
      client,
      reset: async () => {
        const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
        if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
      },
      stop: async () => {
        process.removeListener('exit', kill);
        if (child.exitCode !== null) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(kill, 1000);
        await exited;
        clearTimeout(timer);
      },
    };
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** What exists in a region of moto, by kind (ids; key pairs by name; instances that are not terminated). */
export interface MotoInventory {
  instances: string[];
  securityGroups: string[];
  keyPairs: string[];
  volumes: string[];
  addresses: string[];
  images: string[];
  snapshots: string[];
}

/** Everything a connector can create, as moto lists it now. */
export async function motoInventory(ec2: EC2Client): Promise<MotoInventory> {
  const reservations = (await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? [];
  return {
    instances: reservations.flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated').map((i) => i.InstanceId as string),
    securityGroups: ((await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? []).map((g) => g.GroupId as string),
    keyPairs: ((await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? []).map((k) => k.KeyName as string),
    volumes: ((await ec2.send(new DescribeVolumesCommand({}))).Volumes ?? []).map((v) => v.VolumeId as string),
    addresses: ((await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? []).map((a) => a.AllocationId as string),
    images: ((await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images ?? []).map((i) => i.ImageId as string),
    snapshots: ((await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? [])
      .filter((s) => !s.Description?.startsWith('Auto-created snapshot for AMI ')) // MOTO_GAPS.registerImageSnapshot
      .map((s) => s.SnapshotId as string),
  };
}

/** What `after` has that `before` had not (per kind; kinds with nothing new are left out). */
export function leftovers(before: MotoInventory, after: MotoInventory): Partial<MotoInventory> {
  const out: Partial<MotoInventory> = {};
  for (const k of Object.keys(after) as (keyof MotoInventory)[]) {
    const extra = after[k].filter((id) => !before[k].includes(id));
    if (extra.length) out[k] = extra;
  }
  return out;
}
