/**
 * Flavors (openstack.md §2.3–2.4): the list with extra specs, IM's choice (cheapest fitting cpu, memory, disk,
 * GPU, SGX, `instance_type` name or wildcard) and the features a flavor gives the VM's system.
 *
 * Extra specs are read only for the flavors that pass the cpu/memory/disk/name tests (IM reads them for every
 * flavor): the order and the GPU/SGX tests only look at those. The list is kept a few minutes per compute
 * endpoint and project (flavors rarely change), so a launch of many VMs reads it once.
 */
import type { Feature, System } from '#radl/index';
import type { OstSession } from '#connectors/openstack/session';
import { num, obj, objs, str } from '#connectors/openstack/util';

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  /** MiB */
  ram: number;
  /** GiB */
  disk: number;
  ephemeral: number;
  disabled: boolean;
  /** Loaded on demand (undefined = not read yet). */
  extraSpecs?: Record<string, string>;
  /** The read in flight (shared by concurrent launches). */
  specsLoading?: Promise<Record<string, string>>;
}

export function parseFlavor(f: Record<string, unknown>): Flavor {
  const specs = obj(f.extra_specs);
  const out: Flavor = {
    id: str(f.id) ?? '',
    name: str(f.name) ?? str(f.original_name) ?? '',
    vcpus: num(f.vcpus) ?? 0,
    ram: num(f.ram) ?? 0,
    disk: num(f.disk) ?? 0,
    ephemeral: num(f['OS-FLV-EXT-DATA:ephemeral']) ?? num(f.ephemeral) ?? 0,
    disabled: f['OS-FLV-DISABLED:disabled'] === true,
  };
  if (f.extra_specs && typeof f.extra_specs === 'object') out.extraSpecs = Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, String(v)]));
  return out;
}

interface CachedList {
  at: number;
  flavors: Promise<Flavor[]>;
}

/** Flavor lists per compute endpoint + project, for `ttlMs`. */
export class FlavorCache {
  private readonly lists = new Map<string, CachedList>();
  constructor(private readonly ttlMs = 300_000) {}

  async list(s: OstSession, now: number): Promise<Flavor[]> {
    const ep = await s.endpoint('compute');
    const key = `${ep.url}|${(await s.identity()).projectId ?? s.auth.tenant ?? ''}`;
    const hit = this.lists.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.flavors;
    // Concurrent launches share one request (and the extra specs read on its flavors).
    const flavors = s.request('compute', 'GET', '/flavors/detail').then((r) => objs(r.json.flavors).map(parseFlavor).filter((f) => f.id && !f.disabled));
    this.lists.set(key, { at: now, flavors });
    flavors.catch(() => {
      if (this.lists.get(key)?.flavors === flavors) this.lists.delete(key);
    });
    return flavors;
  }
}

/** The flavor's extra specs (errors ignored: none). */
export async function loadExtraSpecs(s: OstSession, f: Flavor): Promise<Record<string, string>> {
  if (f.extraSpecs) return f.extraSpecs;
  f.specsLoading ??= s.request('compute', 'GET', `/flavors/${encodeURIComponent(f.id)}/os-extra_specs`).then(
    (r) => (f.extraSpecs = Object.fromEntries(Object.entries(obj(r.json.extra_specs)).map(([k, v]) => [k, String(v)]))),
    () => (f.extraSpecs = {}),
  );
  return f.specsLoading;
}

/** Sum of `pci_passthrough:alias` entries (`alias:n`). */
export function pciDevices(specs: Record<string, string>): number {
  const v = specs['pci_passthrough:alias'];
  if (!v) return 0;
  let n = 0;
  for (const entry of v.split(',')) {
    const i = entry.indexOf(':');
    if (i < 0) n += 1;
    else {
      const c = entry.slice(i + 1).trim();
      n += /^\d+$/.test(c) ? Number(c) : 0;
    }
  }
  return n;
}

function cmp(value: number, f: Feature, unit?: string): boolean {
  const x = f.getNumber(unit);
  if (x === undefined) return true;
  switch (f.operator) {
    case '<':
      return value < x;
    case '<=':
      return value <= x;
    case '=':
      return value === x;
    case '>':
      return value > x;
    default:
      return value >= x;
  }
}

const fits = (value: number, features: Feature[], unit?: string) => features.every((f) => cmp(value, f, unit));

function nameMatches(name: string, wanted: string | undefined): boolean {
  if (!wanted) return true;
  if (name === wanted) return true;
  if (!wanted.includes('*')) return false;
  const re = new RegExp('^' + wanted.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*'));
  return re.test(name);
}

const falsy = (v: string) => ['false', 'no', '0'].includes(v.trim().toLowerCase());

function gpuOk(system: System, specs: Record<string, string>): boolean {
  const count = system.getNumber('gpu.count');
  if (count === undefined) return true;
  for (const [k, v] of Object.entries(specs)) if (k.toLowerCase().includes('gpu') && !falsy(v)) return true;
  if (specs['Accelerator:Type'] !== 'GPU') return false;
  const n = Number(specs['Accelerator:Number']);
  if (!Number.isFinite(n) || n < count) return false;
  const vendor = system.getString('gpu.vendor');
  if (vendor && (specs['Accelerator:Vendor'] ?? '').toLowerCase() !== vendor.toLowerCase()) return false;
  const model = system.getString('gpu.model');
  if (model && (specs['Accelerator:Model'] ?? '').toLowerCase() !== model.toLowerCase()) return false;
  return true;
}

function sgxOk(system: System, specs: Record<string, string>): boolean {
  if (system.getString('cpu.sgx')?.toLowerCase() !== 'yes') return true;
  const epc = system.getNumber('cpu.sgx.epc_size', 'M');
  for (const [k, v] of Object.entries(specs)) {
    if (!k.toLowerCase().includes('sgx')) continue;
    if (epc !== undefined) {
      const n = Number.parseInt(v, 10);
      if (Number.isFinite(n) && n >= epc) return true;
    } else if (!falsy(v)) return true;
  }
  return false;
}

/** cpu / memory / disk / name tests (no extra specs needed). */
export function basicFit(system: System, f: Flavor): boolean {
  const cpu = system.getFeatures('cpu.count');
  if (!(cpu.length ? fits(f.vcpus, cpu) : f.vcpus >= 1)) return false;
  const mem = system.getFeatures('memory.size');
  if (mem.length && !fits(f.ram, mem, 'M')) return false;
  const disks = system.getFeatures('disks.free_size');
  if (disks.length) {
    if (!fits(f.disk, disks, 'G')) return false;
  } else if (!system.hasFeature('disk.0.size') && f.disk < 5) return false;
  return nameMatches(f.name, system.getString('instance_type'));
}

/** IM's choice: the first fitting flavor in (price 0, pci devices, vcpus, ram, disk) order; undefined when none. */
export async function selectFlavor(s: OstSession, flavors: Flavor[], system: System): Promise<Flavor | undefined> {
  const candidates = flavors.filter((f) => basicFit(system, f));
  await Promise.all(candidates.map((f) => loadExtraSpecs(s, f)));
  const keyed = candidates.map((f, i) => ({ f, i, pci: pciDevices(f.extraSpecs ?? {}) }));
  keyed.sort((a, b) => a.pci - b.pci || a.f.vcpus - b.f.vcpus || a.f.ram - b.f.ram || a.f.disk - b.f.disk || a.i - b.i);
  return keyed.map((k) => k.f).find((f) => gpuOk(system, f.extraSpecs ?? {}) && sgxOk(system, f.extraSpecs ?? {}));
}

/** The features a flavor sets on the system (§2.4; they replace existing values). */
export function applyFlavor(system: System, f: Flavor): void {
  system.setValue('memory.size', f.ram, 'M');
  if (f.disk > 0) system.setValue('disk.0.free_size', f.disk, 'G');
  system.setValue('instance_type', f.name);
  system.setValue('cpu.count', f.vcpus);
  // IM writes the ephemeral size without unit (read as bytes): kept, it is what IM's clients see.
  if (f.ephemeral > 0) system.setValue('disk.0.free_size', f.ephemeral);
  const specs = f.extraSpecs ?? {};
  if (specs['Accelerator:Type'] === 'GPU') {
    const n = Number(specs['Accelerator:Number']);
    if (Number.isFinite(n)) system.setValue('gpu.count', n);
    if (specs['Accelerator:Vendor']) system.setValue('gpu.vendor', specs['Accelerator:Vendor']);
    if (specs['Accelerator:Model']) system.setValue('gpu.model', specs['Accelerator:Model']);
  }
}

/** One flavor by id (refresh of a VM whose flavor changed). */
export async function getFlavor(s: OstSession, id: string): Promise<Flavor> {
  const r = await s.request('compute', 'GET', `/flavors/${encodeURIComponent(id)}`);
  return parseFlavor(obj(r.json.flavor));
}
