/** Small readers for the JSON bodies of the OpenStack APIs (untrusted input) and a keyed in-process lock. */
export type Obj = Record<string, unknown>;

export const obj = (x: unknown): Obj => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Obj) : {});
export const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
export const objs = (x: unknown): Obj[] => arr(x).map(obj);
export const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
export const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : typeof x === 'string' && x.trim() !== '' && Number.isFinite(Number(x)) ? Number(x) : undefined);

/** Runs `fn` with no other holder of `key` running in this process (per-infrastructure network / group creation). */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.tails.set(key, next);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === next) this.tails.delete(key);
    }
  }
}

/** `(created_at, id)` order: the oldest of several same-named resources is the one every racer keeps. */
export function oldestFirst(a: Obj, b: Obj): number {
  const ca = str(a.created_at) ?? '';
  const cb = str(b.created_at) ?? '';
  if (ca !== cb) return ca < cb ? -1 : 1;
  return (str(a.id) ?? '') < (str(b.id) ?? '') ? -1 : 1;
}
