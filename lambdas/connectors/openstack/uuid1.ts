/** Time-based (version 1) UUIDs, as IM names its servers and volumes (`<name>-<uuid1>`). Random node id. */
import { randomBytes } from 'node:crypto';

const GREGORIAN_OFFSET = 122192928000000000n;
let last = 0n;

export function uuid1(now: number = Date.now()): string {
  let t = BigInt(now) * 10000n + GREGORIAN_OFFSET;
  if (t <= last) t = last + 1n;
  last = t;
  const low = (t & 0xffffffffn).toString(16).padStart(8, '0');
  const mid = ((t >> 32n) & 0xffffn).toString(16).padStart(4, '0');
  const high = (((t >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, '0');
  const r = randomBytes(8);
  const seq = (((r[0] << 8) | r[1]) & 0x3fff) | 0x8000;
  r[2] |= 0x01;
  return `${low}-${mid}-${high}-${seq.toString(16).padStart(4, '0')}-${r.subarray(2, 8).toString('hex')}`;
}
