/**
 * The purge shared by the scheduled Lambda (lambdas/handlers/purge.ts) and the local CLI
 * (bin/purge.ts).
 *
 * It removes only *deleted* infrastructures (with their VM, log and owner items):
 *  - those deleted longer ago than the retention period (deletedAt < now − retentionDays);
 *  - and, when a cut-off date is given, those created before it, as IM's
 *    `scripts/delete_old_infs.py <YYYY-MM-DD>` does (rows with deleted=1 and a date before the day).
 * Active infrastructures are never purged: dropping their records would leak their VMs.
 */
import type { InfrastructureStore } from '#core/types';

const DAY_MS = 86_400_000;

export interface PurgeRunOptions {
  /** Deleted infrastructures are kept this many days (DELETED_RETENTION_DAYS). */
  retentionDays: number;
  /** Also purge deleted infrastructures created before this instant (IM's delete_old_infs date). */
  before?: Date;
  /** Current time, epoch ms. */
  now: number;
}

export interface PurgeRunResult {
  infrastructures: number;
  items: number;
  /** The retention cut-off used: deleted before this instant (ISO 8601). */
  deletedBefore: string;
  /** The creation cut-off used, if any (ISO 8601). */
  createdBefore?: string;
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
 * now − retentionDays, plus the deleted ones created before `before`.
 */
export async function runPurge(store: InfrastructureStore, opts: PurgeRunOptions): Promise<PurgeRunResult> {
  if (!Number.isFinite(opts.retentionDays) || opts.retentionDays < 0) {
    throw new RangeError(`retentionDays must be a non-negative number, got ${opts.retentionDays}`);
  }
  const byRetention = opts.now - opts.retentionDays * DAY_MS;
  const createdBefore = opts.before?.getTime();
  const counts = await store.purge({ deletedBefore: byRetention, deletedCreatedBefore: createdBefore });
  return {
    ...counts,
    deletedBefore: new Date(byRetention).toISOString(),
    ...(createdBefore !== undefined ? { createdBefore: new Date(createdBefore).toISOString() } : {}),
  };
}
