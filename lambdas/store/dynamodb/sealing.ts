/**
 * VM secrets sealed at rest: the passwords and private keys that a RADL carries
 * (`disk.N.os.credentials.password`, `….private_key`, their `new.` forms, `vault.password`) are
 * stored AES-256-GCM-sealed with the service key inside the RADL-JSON texts of the records
 * (the infrastructure's `radl`, a VM's `info` and `requestedRadl`), like the cloud credentials. The
 * store opens them when it reads a record, for the code that needs them: the connectors, the
 * runner, and the owner's own GET of a VM's RADL and export, as IM answers those. A copy of the
 * table (or a reader of DynamoDB Local's file) sees `sealed:v1.…` only.
 */
import type { InfraRecord, SecretBox, VmRecord } from '#core/types';

const SECRET_KEY = /(^|\.)credentials\.(new\.)?(password|private_key)$|(^|\.)vault\.password$/;
const PREFIX = 'sealed:';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Whether a RADL-JSON text may hold a secret feature (cheap test before parsing). */
const mayHold = (text: string) => text.includes('credentials.') || text.includes('vault.password');

function walk(value: Json, fn: (key: string, v: string) => string): Json {
  if (Array.isArray(value)) return value.map((v) => walk(v, fn));
  if (value && typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) out[k] = typeof v === 'string' && SECRET_KEY.test(k) ? fn(k, v) : walk(v, fn);
    return out;
  }
  return value;
}

/** The same RADL-JSON text with every secret feature value sealed. Not JSON (or none): as it is. */
export function sealSecrets(text: string, box: SecretBox): string {
  if (!mayHold(text)) return text;
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    return text;
  }
  return JSON.stringify(walk(parsed, (_k, v) => (v.startsWith(PREFIX) ? v : PREFIX + box.seal(v))));
}

/** The reverse of {@link sealSecrets}. A value sealed with another key fails (the key changed). */
export function openSecrets(text: string, box: SecretBox): string {
  if (!text.includes(PREFIX)) return text;
  let parsed: Json;
  try {
    parsed = JSON.parse(text) as Json;
  } catch {
    return text;
  }
  return JSON.stringify(walk(parsed, (_k, v) => (v.startsWith(PREFIX) ? box.open(v.slice(PREFIX.length)) : v)));
}

/** Seals / opens the RADL fields of records and patches. */
export class RecordSealer {
  constructor(private readonly box: SecretBox) {}

  private fields<T extends object>(rec: T, names: readonly string[], fn: (text: string, box: SecretBox) => string): T {
    let out: T | undefined;
    for (const name of names) {
      const v = (rec as Record<string, unknown>)[name];
      if (typeof v !== 'string') continue;
      const next = fn(v, this.box);
      if (next !== v) (out ??= { ...rec } as T)[name as keyof T] = next as T[keyof T];
    }
    return out ?? rec;
  }

  sealInf<T extends Partial<InfraRecord>>(rec: T): T {
    return this.fields(rec, ['radl'], sealSecrets);
  }

  openInf<T extends Partial<InfraRecord>>(rec: T): T {
    return this.fields(rec, ['radl'], openSecrets);
  }

  sealVm<T extends Partial<VmRecord>>(rec: T): T {
    return this.fields(rec, ['info', 'requestedRadl'], sealSecrets);
  }

  openVm<T extends Partial<VmRecord>>(rec: T): T {
    return this.fields(rec, ['info', 'requestedRadl'], openSecrets);
  }
}
