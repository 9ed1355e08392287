/**
 * The contextualization log lines (contmsg) as IM writes them: `<timestamp>: <message>\n`, the timestamp
 * `YYYY-MM-DD HH:MM:SS.ffffff` in UTC. The one definition for the use cases, the flows and the
 * contextualization runner.
 */

/** `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), as IM writes its log lines (milliseconds, then `000`). */
export function logTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}000`
  );
}

/** One log line: `<timestamp>: <msg>\n`. */
export function contMsgLine(ms: number, msg: string): string {
  return `${logTimestamp(ms)}: ${msg}\n`;
}
