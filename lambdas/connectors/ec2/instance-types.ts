/**
 * EC2 instance types known to the EC2 connector, and the choice of the cheapest type that satisfies a
 * RADL system's requirements (cpu.count, memory.size, cpu.arch, gpu.*, price, instance_type).
 *
 * Source of the table: the public AWS EC2 On-Demand price list for us-east-1 (Linux, shared tenancy) and the
 * instance-type specifications (vCPUs, memory, GPUs) of the EC2 documentation, as published in 2024-2025
 * (https://aws.amazon.com/ec2/pricing/on-demand/, https://docs.aws.amazon.com/ec2/latest/instancetypes/),
 * compiled by hand, not fetched at build time. Prices only rank the candidates and fill the RADL `price`
 * feature; they are not billing data. Other regions cost more or less, but the ordering within a region is
 * nearly always the same.
 * To refresh: `aws pricing get-products --service-code AmazonEC2 --region us-east-1 --filters …` and
 * `aws ec2 describe-instance-types`, then update the rows below (keep them grouped by family).
 *
 * Pure module: no AWS SDK import.
 */

/** CPU architecture of an instance type, as EC2 names it. */
export type Ec2Arch = 'x86_64' | 'arm64';

/** One row of the table. */
export interface InstanceTypeInfo {
  /** e.g. `t3.micro`. */
  name: string;
  vcpus: number;
  /** Memory in MiB. */
  memoryMiB: number;
  arch: Ec2Arch;
  /** Number of GPUs (0 for none). */
  gpus: number;
  gpuVendor?: string;
  gpuModel?: string;
  /** On-demand USD per hour in us-east-1 (Linux). */
  price: number;
}

const GiB = 1024;

/** Compact row builder: [name, vCPUs, memory GiB, arch, price, gpus?, gpu model?]. */
type Row = [string, number, number, Ec2Arch, number, number?, string?];

const ROWS: Row[] = [
  // t3 — burstable, Intel
  ['t3.nano', 2, 0.5, 'x86_64', 0.0052],
  ['t3.micro', 2, 1, 'x86_64', 0.0104],
  ['t3.small', 2, 2, 'x86_64', 0.0208],
  ['t3.medium', 2, 4, 'x86_64', 0.0416],
  ['t3.large', 2, 8, 'x86_64', 0.0832],
  ['t3.xlarge', 4, 16, 'x86_64', 0.1664],
  ['t3.2xlarge', 8, 32, 'x86_64', 0.3328],
  // t3a — burstable, AMD
  ['t3a.nano', 2, 0.5, 'x86_64', 0.0047],
  ['t3a.micro', 2, 1, 'x86_64', 0.0094],
  ['t3a.small', 2, 2, 'x86_64', 0.0188],
  ['t3a.medium', 2, 4, 'x86_64', 0.0376],
  ['t3a.large', 2, 8, 'x86_64', 0.0752],
  ['t3a.xlarge', 4, 16, 'x86_64', 0.1504],
  ['t3a.2xlarge', 8, 32, 'x86_64', 0.3008],
  // t4g — burstable, Graviton2
  ['t4g.nano', 2, 0.5, 'arm64', 0.0042],
  ['t4g.micro', 2, 1, 'arm64', 0.0084],
  ['t4g.small', 2, 2, 'arm64', 0.0168],
  ['t4g.medium', 2, 4, 'arm64', 0.0336],
  ['t4g.large', 2, 8, 'arm64', 0.0672],
  ['t4g.xlarge', 4, 16, 'arm64', 0.1344],
  ['t4g.2xlarge', 8, 32, 'arm64', 0.2688],
  // m5 — general purpose, Intel
  ['m5.large', 2, 8, 'x86_64', 0.096],
  ['m5.xlarge', 4, 16, 'x86_64', 0.192],
  ['m5.2xlarge', 8, 32, 'x86_64', 0.384],
  ['m5.4xlarge', 16, 64, 'x86_64', 0.768],
  ['m5.8xlarge', 32, 128, 'x86_64', 1.536],
  ['m5.12xlarge', 48, 192, 'x86_64', 2.304],
  ['m5.16xlarge', 64, 256, 'x86_64', 3.072],
  ['m5.24xlarge', 96, 384, 'x86_64', 4.608],
  // m6i — general purpose, Intel Ice Lake
  ['m6i.large', 2, 8, 'x86_64', 0.096],
  ['m6i.xlarge', 4, 16, 'x86_64', 0.192],
  ['m6i.2xlarge', 8, 32, 'x86_64', 0.384],
  ['m6i.4xlarge', 16, 64, 'x86_64', 0.768],
  ['m6i.8xlarge', 32, 128, 'x86_64', 1.536],
  ['m6i.12xlarge', 48, 192, 'x86_64', 2.304],
  ['m6i.16xlarge', 64, 256, 'x86_64', 3.072],
  ['m6i.24xlarge', 96, 384, 'x86_64', 4.608],
  ['m6i.32xlarge', 128, 512, 'x86_64', 6.144],
  // m7g — general purpose, Graviton3
  ['m7g.medium', 1, 4, 'arm64', 0.0408],
  ['m7g.large', 2, 8, 'arm64', 0.0816],
  ['m7g.xlarge', 4, 16, 'arm64', 0.1632],
  ['m7g.2xlarge', 8, 32, 'arm64', 0.3264],
  ['m7g.4xlarge', 16, 64, 'arm64', 0.6528],
  ['m7g.8xlarge', 32, 128, 'arm64', 1.3056],
  ['m7g.12xlarge', 48, 192, 'arm64', 1.9584],
  ['m7g.16xlarge', 64, 256, 'arm64', 2.6112],
  // c5 — compute optimised, Intel
  ['c5.large', 2, 4, 'x86_64', 0.085],
  ['c5.xlarge', 4, 8, 'x86_64', 0.17],
  ['c5.2xlarge', 8, 16, 'x86_64', 0.34],
  ['c5.4xlarge', 16, 32, 'x86_64', 0.68],
  ['c5.9xlarge', 36, 72, 'x86_64', 1.53],
  ['c5.12xlarge', 48, 96, 'x86_64', 2.04],
  ['c5.18xlarge', 72, 144, 'x86_64', 3.06],
  ['c5.24xlarge', 96, 192, 'x86_64', 4.08],
  // c6i — compute optimised, Intel Ice Lake
  ['c6i.large', 2, 4, 'x86_64', 0.085],
  ['c6i.xlarge', 4, 8, 'x86_64', 0.17],
  ['c6i.2xlarge', 8, 16, 'x86_64', 0.34],
  ['c6i.4xlarge', 16, 32, 'x86_64', 0.68],
  ['c6i.8xlarge', 32, 64, 'x86_64', 1.36],
  ['c6i.12xlarge', 48, 96, 'x86_64', 2.04],
  ['c6i.16xlarge', 64, 128, 'x86_64', 2.72],
  ['c6i.24xlarge', 96, 192, 'x86_64', 4.08],
  ['c6i.32xlarge', 128, 256, 'x86_64', 5.44],
  // c7g — compute optimised, Graviton3
  ['c7g.medium', 1, 2, 'arm64', 0.0363],
  ['c7g.large', 2, 4, 'arm64', 0.0725],
  ['c7g.xlarge', 4, 8, 'arm64', 0.145],
  ['c7g.2xlarge', 8, 16, 'arm64', 0.29],
  ['c7g.4xlarge', 16, 32, 'arm64', 0.58],
  ['c7g.8xlarge', 32, 64, 'arm64', 1.16],
  ['c7g.12xlarge', 48, 96, 'arm64', 1.74],
  ['c7g.16xlarge', 64, 128, 'arm64', 2.32],
  // r5 — memory optimised, Intel
  ['r5.large', 2, 16, 'x86_64', 0.126],
  ['r5.xlarge', 4, 32, 'x86_64', 0.252],
  ['r5.2xlarge', 8, 64, 'x86_64', 0.504],
  ['r5.4xlarge', 16, 128, 'x86_64', 1.008],
  ['r5.8xlarge', 32, 256, 'x86_64', 2.016],
  ['r5.12xlarge', 48, 384, 'x86_64', 3.024],
  ['r5.16xlarge', 64, 512, 'x86_64', 4.032],
  ['r5.24xlarge', 96, 768, 'x86_64', 6.048],
  // r6i — memory optimised, Intel Ice Lake
  ['r6i.large', 2, 16, 'x86_64', 0.126],
  ['r6i.xlarge', 4, 32, 'x86_64', 0.252],
  ['r6i.2xlarge', 8, 64, 'x86_64', 0.504],
  ['r6i.4xlarge', 16, 128, 'x86_64', 1.008],
  ['r6i.8xlarge', 32, 256, 'x86_64', 2.016],
  ['r6i.12xlarge', 48, 384, 'x86_64', 3.024],
  ['r6i.16xlarge', 64, 512, 'x86_64', 4.032],
  ['r6i.24xlarge', 96, 768, 'x86_64', 6.048],
  ['r6i.32xlarge', 128, 1024, 'x86_64', 8.064],
  // g4dn — NVIDIA T4
  ['g4dn.xlarge', 4, 16, 'x86_64', 0.526, 1, 'T4'],
  ['g4dn.2xlarge', 8, 32, 'x86_64', 0.752, 1, 'T4'],
  ['g4dn.4xlarge', 16, 64, 'x86_64', 1.204, 1, 'T4'],
  ['g4dn.8xlarge', 32, 128, 'x86_64', 2.176, 1, 'T4'],
  ['g4dn.12xlarge', 48, 192, 'x86_64', 3.912, 4, 'T4'],
  ['g4dn.16xlarge', 64, 256, 'x86_64', 4.352, 1, 'T4'],
  ['g4dn.metal', 96, 384, 'x86_64', 7.824, 8, 'T4'],
  // g5 — NVIDIA A10G
  ['g5.xlarge', 4, 16, 'x86_64', 1.006, 1, 'A10G'],
  ['g5.2xlarge', 8, 32, 'x86_64', 1.212, 1, 'A10G'],
  ['g5.4xlarge', 16, 64, 'x86_64', 1.624, 1, 'A10G'],
  ['g5.8xlarge', 32, 128, 'x86_64', 2.448, 1, 'A10G'],
  ['g5.12xlarge', 48, 192, 'x86_64', 5.672, 4, 'A10G'],
  ['g5.16xlarge', 64, 256, 'x86_64', 4.096, 1, 'A10G'],
  ['g5.24xlarge', 96, 384, 'x86_64', 8.144, 4, 'A10G'],
  ['g5.48xlarge', 192, 768, 'x86_64', 16.288, 8, 'A10G'],
  // p3 — NVIDIA V100
  ['p3.2xlarge', 8, 61, 'x86_64', 3.06, 1, 'V100'],
  ['p3.8xlarge', 32, 244, 'x86_64', 12.24, 4, 'V100'],
  ['p3.16xlarge', 64, 488, 'x86_64', 24.48, 8, 'V100'],
];

/** The maintained table of instance types (frozen). */
export const INSTANCE_TYPES: readonly InstanceTypeInfo[] = Object.freeze(
  ROWS.map(([name, vcpus, memGiB, arch, price, gpus = 0, gpuModel]) =>
    Object.freeze({
      name,
      vcpus,
      memoryMiB: Math.round(memGiB * GiB),
      arch,
      price,
      gpus,
      ...(gpus > 0 ? { gpuVendor: 'NVIDIA', gpuModel } : {}),
    }),
  ),
);

const BY_NAME = new Map(INSTANCE_TYPES.map((t) => [t.name, t]));

/** The table row of this type name, if known. */
export function instanceTypeInfo(name: string): InstanceTypeInfo | undefined {
  return BY_NAME.get(name);
}

/** A numeric requirement as a closed interval; either bound may be absent. */
export interface Range {
  min?: number;
  max?: number;
}

/** What a system asks of its instance type (all optional). */
export interface InstanceRequirements {
  /** Exact name or a shell-style wildcard (`t3.*`, `*.large`, `m?g.*`). */
  instanceType?: string;
  cpus?: Range;
  /** Memory in MiB. */
  memoryMiB?: Range;
  /** `x86_64`, `i386` (treated as x86_64), `arm64` / `aarch64`. */
  arch?: string;
  gpus?: Range;
  /** Case-insensitive substring of the GPU vendor (`nvidia`). */
  gpuVendor?: string;
  /** Case-insensitive substring of the GPU model (`t4`, `A10G`, `Tesla V100`). */
  gpuModel?: string;
  /** USD per hour. */
  price?: Range;
}

/** Normalises a RADL / EC2 architecture name; undefined when it is not one EC2 offers. */
export function normaliseArch(arch: string | undefined): Ec2Arch | undefined {
  if (!arch) return undefined;
  const a = arch.trim().toLowerCase();
  if (['x86_64', 'amd64', 'x64', 'i386', 'i686', 'x86'].includes(a)) return 'x86_64';
  if (['arm64', 'aarch64', 'arm'].includes(a)) return 'arm64';
  return undefined;
}

/** `t3.*` → /^t3\..*$/; `?` matches one character. Case-insensitive. */
export function wildcardToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'i');
}

const inRange = (v: number, r: Range | undefined) => !r || ((r.min === undefined || v >= r.min) && (r.max === undefined || v <= r.max));

/** True when the type satisfies every requirement. */
export function fits(t: InstanceTypeInfo, req: InstanceRequirements): boolean {
  if (req.instanceType) {
    const wanted = req.instanceType.trim();
    if (/[*?]/.test(wanted) ? !wildcardToRegExp(wanted).test(t.name) : wanted.toLowerCase() !== t.name) return false;
  }
  if (!inRange(t.vcpus, req.cpus)) return false;
  if (!inRange(t.memoryMiB, req.memoryMiB)) return false;
  if (req.arch) {
    const arch = normaliseArch(req.arch);
    if (!arch || arch !== t.arch) return false;
  }
  if (!inRange(t.gpus, req.gpus)) return false;
  if (req.gpuVendor && !(t.gpuVendor ?? '').toLowerCase().includes(req.gpuVendor.trim().toLowerCase())) return false;
  if (req.gpuModel) {
    // 'Tesla T4' and 'NVIDIA A10G' must match the table's 'T4' / 'A10G' as well as the reverse.
    const want = req.gpuModel.trim().toLowerCase();
    const have = (t.gpuModel ?? '').toLowerCase();
    if (!have || !(want.includes(have) || have.includes(want))) return false;
  }
  if (!inRange(t.price, req.price)) return false;
  return true;
}

/**
 * Every type satisfying the requirements, cheapest first (ties: fewer vCPUs, less memory, then name).
 * An exact `instanceType` that is not in the table is returned as a synthetic row (price 0, unknown size)
 * so that users may name types the table does not list; requirements are not checked against it.
 */
export function candidateInstanceTypes(req: InstanceRequirements, table: readonly InstanceTypeInfo[] = INSTANCE_TYPES): InstanceTypeInfo[] {
  const exact = req.instanceType?.trim();
  if (exact && !/[*?]/.test(exact) && !table.some((t) => t.name === exact.toLowerCase())) {
    if (!/^[a-z0-9-]+\.[a-z0-9-]+$/i.test(exact)) return [];
    return [{ name: exact.toLowerCase(), vcpus: 0, memoryMiB: 0, arch: normaliseArch(req.arch) ?? 'x86_64', gpus: 0, price: 0 }];
  }
  return table
    .filter((t) => fits(t, req))
    .sort((a, b) => a.price - b.price || a.vcpus - b.vcpus || a.memoryMiB - b.memoryMiB || a.name.localeCompare(b.name));
}

/** The cheapest fitting type, or undefined when none fits. */
export function cheapestInstanceType(req: InstanceRequirements, table?: readonly InstanceTypeInfo[]): InstanceTypeInfo | undefined {
  return candidateInstanceTypes(req, table)[0];
}

/** Human-readable summary of the requirements, for error messages. */
export function describeRequirements(req: InstanceRequirements): string {
  const parts: string[] = [];
  const range = (name: string, r: Range | undefined, unit = '') => {
    if (!r) return;
    if (r.min !== undefined && r.max !== undefined && r.min === r.max) parts.push(`${name} = ${r.min}${unit}`);
    else {
      if (r.min !== undefined) parts.push(`${name} >= ${r.min}${unit}`);
      if (r.max !== undefined) parts.push(`${name} <= ${r.max}${unit}`);
    }
  };
  if (req.instanceType) parts.push(`instance_type = '${req.instanceType}'`);
  range('cpu.count', req.cpus);
  range('memory.size', req.memoryMiB, 'MiB');
  if (req.arch) parts.push(`cpu.arch = '${req.arch}'`);
  range('gpu.count', req.gpus);
  if (req.gpuVendor) parts.push(`gpu.vendor = '${req.gpuVendor}'`);
  if (req.gpuModel) parts.push(`gpu.model = '${req.gpuModel}'`);
  range('price', req.price);
  return parts.length ? parts.join(', ') : 'no requirements';
}
