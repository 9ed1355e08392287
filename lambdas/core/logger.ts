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

/** Keys whose values are secrets in auth lines, RADL features and JSON documents (parsed redaction). */
const SECRET_FIELD_RE = /(^|[._])(password|passwd|token|secret|private_key|auth_token|client_secret|access_token|refresh_token)$/i;

const SCRUBBERS: [RegExp, string][] = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g, '[REDACTED PRIVATE KEY]'],
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [REDACTED]'],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '[REDACTED JWT]'],
];

/** `<secret key> =` or `<secret key>:` (the key optionally quoted), e.g. `password =`, `"token":`, `disk.0.os.credentials.password=`. */
const SECRET_ASSIGN_RE = /(["']?)\b([A-Za-z0-9_.-]*(?:password|passwd|token|secret|private_key))\1[ \t]*[=:][ \t\r\n]*/gi;

/** Where a value that starts at `i` ends: quoted segments (an unterminated one runs to the end) and plain characters up to a separator. */
function valueEnd(text: string, i: number): number {
  let j = i;
  while (j < text.length) {
    const c = text[j];
    if (c === '"' || c === "'") {
      let k = j + 1;
      while (k < text.length && text[k] !== c) k += text[k] === '\\' ? 2 : 1;
      j = Math.min(text.length, k + 1);
      continue;
    }
    if (c === ';' || c === ',' || c === '\n' || c === ')' || c === '}' || c === ']') break;
    if (c === '\\' && text[j + 1] === 'n') break; // an escaped newline (IM's auth header)
    if (/\s/.test(c) && /^\s+and\s/i.test(text.slice(j))) break; // RADL: `… and next.feature = …`
    j++;
  }
  // A plain value does not swallow the spaces before a separator.
  while (j > i && /[ \t]/.test(text[j - 1])) j--;
  return j;
}

/**
 * Redacts by parsed field: every `key = value` / `key: value` whose key names a secret (auth items,
 * RADL features, JSON, error texts that quote them) loses its whole value, however it is quoted or
 * spread over lines, rather than what a pattern happens to match.
 */
function redactAssignments(text: string): string {
  let out = '';
  let from = 0;
  SECRET_ASSIGN_RE.lastIndex = 0;
  for (let m = SECRET_ASSIGN_RE.exec(text); m; m = SECRET_ASSIGN_RE.exec(text)) {
    const start = m.index + m[0].length;
    if (start < from) continue;
    const end = valueEnd(text, start);
    out += text.slice(from, start) + '[REDACTED]';
    from = end;
    SECRET_ASSIGN_RE.lastIndex = Math.max(end, start);
  }
  return out + text.slice(from);
}

/** A JSON document (object or array) with every secret field redacted, or undefined when `text` is not one. */
function redactJsonText(text: string): string | undefined {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  try {
    return JSON.stringify(redact(JSON.parse(t)));
  } catch {
    return undefined;
  }
}

/**
 * Removes credentials from free text: a JSON document is redacted field by field; otherwise each
 * private key blocks, bearer tokens and JWTs go, then the value of every secret `key = value` (see redactAssignments).
 */
export function scrub(text: string): string {
  const json = redactJsonText(text);
  if (json !== undefined) return json;
  let out = text;
  for (const [re, rep] of SCRUBBERS) out = out.replace(re, rep);
  return redactAssignments(out);
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
      out[k] = (SECRET_KEY_RE.test(k) || SECRET_FIELD_RE.test(k)) && v !== undefined && v !== null && typeof v !== 'boolean' ? '[REDACTED]' : redact(v, depth + 1);
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
