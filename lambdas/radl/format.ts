/**
 * Low-level lexical helpers shared by the parser, the serializers and the model:
 * keywords, identifiers, string quoting, number formatting and units.
 */
import { RadlError } from './errors.ts';

/** Reserved words (lower-case only). They cannot be used as identifiers. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'network',
  'system',
  'ansible',
  'configure',
  'contextualize',
  'deploy',
  'description',
  'soft',
  'and',
  'contains',
  'step',
  'with',
  'option',
]);

const IDENT_RE = /^[A-Za-z_.\p{L}][A-Za-z0-9_.\-\p{L}\p{N}\p{M}]*$/u;

/** True when `s` can be written as a RADL identifier (section id, feature name, unit, cloud id, tool). */
export function isIdentifier(s: string): boolean {
  return IDENT_RE.test(s) && !KEYWORDS.has(s);
}

/**
 * Whether a string value can be written between single quotes so that the lexer reads it back unchanged.
 * The lexer turns `\'` into `'` and keeps any other backslash pair verbatim (`\\` stays two backslashes), so a
 * value that has an odd run of backslashes right before a quote or at its very end cannot be written.
 */
export function isQuotable(s: string): boolean {
  if (s.indexOf('\\') < 0) return true;
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      run++;
      continue;
    }
    if (c === 39 && run % 2 === 1) return false;
    run = 0;
  }
  return run % 2 === 0;
}

/**
 * Quote a string for RADL text: `'` becomes `\'`, everything else is written verbatim.
 * With `strict` (the default) an unrepresentable value (see isQuotable) throws a RadlError;
 * without it (error messages) the value is written anyway.
 */
export function quoteString(s: string, strict = true): string {
  if (strict && !isQuotable(s)) {
    throw new RadlError(
      `The string ${JSON.stringify(s)} cannot be written in RADL text: a quote or the end of a string cannot ` +
        'follow an odd number of backslashes',
    );
  }
  return s.indexOf("'") < 0 ? `'${s}'` : `'${s.replace(/'/g, "\\'")}'`;
}

/**
 * Format a number the way the lexer can read it back: no sign, no exponent.
 * Throws RadlError for negative or non-finite values (RADL numbers have no sign).
 */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n) || n < 0) {
    throw new RadlError(`The number ${n} cannot be written in RADL text (numbers have no sign and no exponent)`);
  }
  const s = String(n);
  if (s.indexOf('e') < 0) return s;
  if (Number.isInteger(n)) return BigInt(n).toString();
  // Small fraction such as 1e-7: expand. toFixed accepts at most 100 digits.
  const exp = Math.floor(Math.log10(n));
  const digits = Math.min(100, Math.max(0, 16 - exp));
  return n.toFixed(digits).replace(/0+$/, '').replace(/\.$/, '');
}

// ---------------------------------------------------------------------------------------------------------------
// Units
// ---------------------------------------------------------------------------------------------------------------

/** Memory/disk size units (lower-cased) → multiplier to bytes. SI prefixes are decimal (RADL ≥ 1.3.4). */
const MEMORY_UNIT_FACTORS: Record<string, number> = {
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 2 ** 10,
  kib: 2 ** 10,
  mi: 2 ** 20,
  mib: 2 ** 20,
  gi: 2 ** 30,
  gib: 2 ** 30,
  ti: 2 ** 40,
  tib: 2 ** 40,
};

/** The memory units accepted by validation, in the spelling used in messages. */
export const MEMORY_UNITS: readonly string[] = [
  'B',
  'K',
  'M',
  'G',
  'T',
  'KB',
  'MB',
  'GB',
  'TB',
  'Ki',
  'Mi',
  'Gi',
  'Ti',
  'KiB',
  'MiB',
  'GiB',
  'TiB',
];

/** Performance units of `cpu.performance` (a unit is required there). */
export const PERFORMANCE_UNITS: readonly string[] = ['ECU', 'GCEU', 'HRZ'];

/** Multiplier to bytes for a memory unit (case-insensitive, optional trailing B); undefined if not one. */
export function memoryUnitFactor(unit: string | undefined): number | undefined {
  if (unit === undefined || unit === '') return 1;
  return Object.prototype.hasOwnProperty.call(MEMORY_UNIT_FACTORS, unit.toLowerCase())
    ? MEMORY_UNIT_FACTORS[unit.toLowerCase()]
    : undefined;
}

/** True for memory units (B, K, M, Gi, MiB, …; case-insensitive). */
export function isMemoryUnit(unit: string | undefined): boolean {
  return unit !== undefined && unit !== '' && memoryUnitFactor(unit) !== undefined;
}

/** True for cpu.performance units (ECU, GCEU, HRZ; case-insensitive). */
export function isPerformanceUnit(unit: string | undefined): boolean {
  if (unit === undefined) return false;
  const u = unit.toUpperCase();
  return u === 'ECU' || u === 'GCEU' || u === 'HRZ';
}

function roundNear(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - r) <= 1e-9 * Math.max(1, Math.abs(x)) ? r : x;
}

/**
 * Convert `value` expressed in `unit` to base units (bytes for memory units). Units that are not memory units
 * (e.g. ECU) have no base: the value is returned unchanged.
 */
export function toBaseUnits(value: number, unit: string | undefined): number {
  const f = memoryUnitFactor(unit);
  if (f === undefined || f === 1) return value;
  return roundNear(value * f);
}

/** Convert a base-unit value (bytes) to `unit`. Non-memory units leave the value unchanged. */
export function fromBaseUnits(value: number, unit: string | undefined): number {
  const f = memoryUnitFactor(unit);
  if (f === undefined || f === 1) return value;
  return value / f;
}

// ---------------------------------------------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------------------------------------------

/** Compare dotted version strings part by part (numerically when both parts are numbers). */
export function compareVersions(a: string, b: string): number {
  if (a === b) return 0;
  const pa = a.split('.');
  const pb = b.split('.');
  const n = Math.max(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    if (x === y) continue;
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) {
      if (nx !== ny) return nx < ny ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Special values
// ---------------------------------------------------------------------------------------------------------------

/** Largest N accepted in `'random(N)'`. */
export const MAX_RANDOM_LENGTH = 1024;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** N random alphanumerics (uniform, from the platform CSPRNG). */
export function randomAlphanumeric(n: number): string {
  let out = '';
  const buf = new Uint8Array(Math.max(16, n * 2));
  while (out.length < n) {
    crypto.getRandomValues(buf);
    for (let i = 0; i < buf.length && out.length < n; i++) {
      const b = buf[i];
      if (b < 248) out += ALNUM[b % 62]; // 248 = 4 * 62: rejection sampling keeps it uniform
    }
  }
  return out;
}

/**
 * If `s` is exactly `random(N)` return N (may be several digits), else -1.
 */
export function randomSpecLength(s: string): number {
  if (s.length < 9 || !s.startsWith('random(') || s.charCodeAt(s.length - 1) !== 41) return -1;
  const digits = s.slice(7, -1);
  if (!/^\d+$/.test(digits)) return -1;
  return Number(digits);
}

/** Replace every `#N#` with the VM id (dns_name / dns.M.name / DEFAULT_VM_NAME templates). */
export function replaceNumTemplate(s: string, vmId: number | string): string {
  return s.indexOf('#N#') < 0 ? s : s.split('#N#').join(String(vmId));
}
