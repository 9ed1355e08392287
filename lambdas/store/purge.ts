/**
 * The purge shared by the scheduled Lambda (lambdas/handlers/purge.ts) and the local CLI
 * (bin/purge.ts).
 *
 * Like IM's `scripts/delete_old_infs.py <YYYY-MM-DD>` (which deletes the rows with deleted=1 and
 * a last-save date before the given day), it removes only *deleted* infrastructures: those
 * deleted before the retention cut-off (now − retentionDays) or before `before`, whichever is
 * later. Active infrastructures are never purged: dropping their records would leak their VMs.
 */
import type { InfrastructureStore } from '#core/types';

const DAY_MS = 86_400_000;

export interface PurgeRunOptions {
  /** Deleted infrastructures are kept this many days (DELETED_RETENTION_DAYS). */
  retentionDays: number;
  /** Also purge what was deleted before this instant (IM's delete_old_infs date). */
  before?: Date;
  /** Current time, epoch ms. */
  now: number;
}

export interface PurgeRunResult {
  infrastructures: number;
  items: number;
  /** The cut-off used: deleted before this instant (ISO 8601). */
  deletedBefore: string;
}

/**
 * Parses a `YYYY-MM-DD` day (IM's script also accepts `/` separators) as 00:00 UTC.
 * @returns the Date, or undefined when the text is not a valid calendar day.
 */
export function parsePurgeDate(text: string): Date | undefined {
  const m = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  const valid = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  return valid ? date : undefined;
}

/**
 * Removes the deleted infrastructures (record, VMs, logs, owner links) deleted before
 * max(now − retentionDays, before).
 */
export async function runPurge(store: InfrastructureStore, opts: PurgeRunOptions): Promise<PurgeRunResult> {
  if (!Number.isFinite(opts.retentionDays) || opts.retentionDays < 0) {
    throw new RangeError(`retentionDays must be a non-negative number, got ${opts.retentionDays}`);
  }
  const byRetention = opts.now - opts.retentionDays * DAY_MS;
  const deletedBefore = Math.max(byRetention, opts.before?.getTime() ?? Number.NEGATIVE_INFINITY);
  const counts = await store.purge({ deletedBefore });
  return { ...counts, deletedBefore: new Date(deletedBefore).toISOString() };
}
