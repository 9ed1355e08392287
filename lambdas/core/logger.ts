/**
 * Structured JSON logging with credential redaction.
 *
 * Every line is one JSON object on stdout (CloudWatch-friendly). Field values whose key looks
 * like a secret are replaced by "[REDACTED]", and strings are scrubbed of auth lines,
 * passwords, private keys and bearer tokens before they are written.
 *
 * Each line also carries what the entry point's `context()` gives for the current request (the
 * handlers give request_id, cold_start, function_name and xray_trace_id, kept per request in an
 * AsyncLocalStorage: see lambdas/handlers/log-context.ts). This is our own small logger rather than
 * @aws-lambda-powertools/logger because local mode serves many requests at once in one process:
 * powertools keeps the invocation context on the logger instance (addContext), which concurrent
 * requests would overwrite, while the per-request context here is carried by the async call chain;
 * lines are also written synchronously to a sink the tests and the runner's parent read.
 */
import type { Logger } from '#core/types';

const LEVELS = { DEBUG: 10, INFO: 20, WARNING: 30, WARN: 30, ERROR: 40, CRITICAL: 50, SILENT: 100 } as const;
export type LogLevel = keyof typeof LEVELS;

const SECRET_KEY_RE = /(pass(word)?|secret|token|private_?key|authorization|auth|credential|cloudauth|proxy|key_?material)/i;

const SCRUBBERS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[REDACTED PRIVATE KEY]'],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [REDACTED]'],
  [/\b(password|token|secret|private_key|public_key|auth_token)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^;\\\n,}]+)/gi, '$1$2[REDACTED]'],
  [/("(?:password|token|secret|private_key|auth_token)"\s*:\s*)"(?:[^"\\]|\\.)*"/gi, '$1"[REDACTED]"'],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '[REDACTED JWT]'],
];

/** Removes anything that looks like a credential from free text. */
export function scrub(text: string): string {
  let out = text;
  for (const [re, rep] of SCRUBBERS) out = out.replace(re, rep);
  return out;
}

/** Deep copy with secret-looking keys redacted and strings scrubbed. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[…]';
  if (typeof value === 'string') return scrub(value);
  if (value instanceof Error) return { name: value.name, message: scrub(value.message) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY_RE.test(k) && v !== undefined && v !== null && typeof v !== 'boolean' ? '[REDACTED]' : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}

export interface JsonLoggerOptions {
  level?: LogLevel;
  /** Where lines go (default: process.stdout). */
  write?: (line: string) => void;
  /** Fields added to every line. */
  base?: Record<string, unknown>;
  /** Fields of the current request, asked for each line (undefined outside a request). */
  context?: () => Record<string, unknown> | undefined;
}

export function createLogger(opts: JsonLoggerOptions = {}): Logger {
  const min = LEVELS[opts.level ?? 'INFO'];
  const write = opts.write ?? ((line: string) => process.stdout.write(line + '\n'));
  const base = opts.base ?? {};
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    const entry = { time: new Date().toISOString(), level, msg: scrub(msg), ...base, ...opts.context?.(), ...((fields ? redact(fields) : {}) as object) };
    write(JSON.stringify(entry));
  };
  return {
    debug: (m, f) => log('DEBUG', m, f),
    info: (m, f) => log('INFO', m, f),
    warn: (m, f) => log('WARNING', m, f),
    error: (m, f) => log('ERROR', m, f),
  };
}
