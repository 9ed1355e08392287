/**
 * From a RADL system to an EC2 instance type (no SDK): what the system asks (cpu.count, memory.size,
 * cpu.arch, gpu.*, price, instance_type), the cheapest type of the table that gives it, and the features the
 * chosen type writes back into the VM's system.
 */
import type { System } from '#radl/index';
import { ImError } from '#core/errors';
import {
  candidateInstanceTypes,
  describeRequirements,
  instanceTypeInfo,
  normaliseArch,
  type InstanceRequirements,
  type InstanceTypeInfo,
  type Range,
} from '#connectors/ec2/instance-types';

const MiB = 1024 * 1024;

function bounds(system: System, prop: string, scale = 1, eqIsMinOnly = false): Range | undefined {
  const b = system.getBounds(prop);
  const min = b.min?.getNumber();
  const max = b.max?.getNumber();
  if (min === undefined && max === undefined) return undefined;
  const r: Range = {};
  const isEq = b.min !== undefined && b.min === b.max;
  if (min !== undefined) r.min = min / scale;
  if (max !== undefined && !(isEq && eqIsMinOnly)) r.max = max / scale;
  return r;
}

/**
 * What a system asks of its instance type. `memory.size = X` is read as "at least X" (EC2 sizes are
 * binary and RADL units may be decimal); `price = X` as "at most X". `arch` overrides `cpu.arch` (the AMI's
 * architecture decides at launch).
 */
export function instanceRequirements(system: System, arch?: string): InstanceRequirements {
  const req: InstanceRequirements = {};
  const it = system.getString('instance_type');
  if (it) req.instanceType = it;
  const cpus = bounds(system, 'cpu.count');
  if (cpus) req.cpus = cpus;
  const mem = bounds(system, 'memory.size', MiB, true);
  if (mem) req.memoryMiB = mem;
  const a = arch ?? system.getString('cpu.arch');
  if (a) req.arch = a;
  const gpus = bounds(system, 'gpu.count');
  if (gpus) req.gpus = gpus;
  const vendor = system.getString('gpu.vendor');
  if (vendor) req.gpuVendor = vendor;
  const model = system.getString('gpu.model');
  if (model) req.gpuModel = model;
  const pb = system.getBounds('price');
  if (pb.max || pb.min) {
    const price: Range = {};
    const maxV = pb.max?.getNumber();
    if (maxV !== undefined) price.max = maxV;
    const minV = pb.min?.getNumber();
    if (minV !== undefined && pb.min !== pb.max) price.min = minV;
    req.price = price;
  }
  return req;
}

/** The BAD_REQUEST of a system that no instance type fits. */
export function noTypeFits(systemName: string, req: InstanceRequirements): ImError {
  return new ImError('BAD_REQUEST', `No EC2 instance type satisfies the requirements of system '${systemName}': ${describeRequirements(req)}`);
}

/** Cheapest type for the system on the AMI's architecture; BAD_REQUEST when none fits. */
export function selectInstanceType(system: System, amiArch: string | undefined, imageId: string): InstanceTypeInfo {
  const req = instanceRequirements(system, amiArch ? normaliseArch(amiArch) ?? amiArch : undefined);
  const exact = req.instanceType && !/[*?]/.test(req.instanceType) ? instanceTypeInfo(req.instanceType.toLowerCase()) : undefined;
  if (exact && req.arch && normaliseArch(req.arch) && exact.arch !== normaliseArch(req.arch)) {
    throw new ImError('BAD_REQUEST', `Instance type ${exact.name} (${exact.arch}) cannot run AMI ${imageId} (${req.arch})`);
  }
  const type = candidateInstanceTypes(req)[0];
  if (!type) throw noTypeFits(system.name, req);
  return type;
}

/** Writes the chosen type into the VM's system: instance_type, cpu.count, memory.size, price, gpu.*. */
export function setTypeFeatures(system: System, type: InstanceTypeInfo): void {
  system.setValue('instance_type', type.name);
  if (type.vcpus > 0) system.setValue('cpu.count', type.vcpus);
  if (type.memoryMiB > 0) system.setValue('memory.size', type.memoryMiB, 'MiB');
  if (type.price > 0) system.setValue('price', type.price);
  if (type.gpus > 0) {
    system.setValue('gpu.count', type.gpus);
    if (type.gpuVendor) system.setValue('gpu.vendor', type.gpuVendor);
    if (type.gpuModel) system.setValue('gpu.model', type.gpuModel);
  }
}
