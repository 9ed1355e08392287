/**
 * After a synchronous workflow ended badly: the error text it recorded. The destroy / remove /
 * stop / start workflows fail with IM's message as the execution cause (`Error destroying the
 * infrastructure: …`) and also write it to the logs. This returns the detail after `prefix`: from
 * the execution cause when the orchestrator can describe executions, else from the last occurrence
 * of the prefix in the given log.
 */
import type { LogScope, Services } from '#core/types';

function causeText(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the cause is the text
  }
  return cause;
}

export async function loggedError(services: Services, infId: string, scope: LogScope, prefix: string): Promise<string | undefined> {
  const log = await services.store.getLog(infId, scope);
  const i = log.lastIndexOf(prefix);
  if (i < 0) return undefined;
  const detail = log
    .slice(i + prefix.length)
    .replace(/\n\(ignored: force\)\s*$/, '')
    .trim();
  return detail || undefined;
}

export async function executionError(
  services: Services,
  executionId: string,
  prefix: string,
  fallback: { infId: string; scope: LogScope },
): Promise<string | undefined> {
  const described = services.orchestrator.describe ? await services.orchestrator.describe(executionId).catch(() => undefined) : undefined;
  if (described?.cause) {
    const text = causeText(described.cause).trim();
    return text.startsWith(prefix) ? text.slice(prefix.length).trim() : text;
  }
  return loggedError(services, fallback.infId, fallback.scope, prefix);
}
