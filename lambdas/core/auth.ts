/**
 * Authorization data: parsing (auth.md §1-2, rest-api.md §2), identity validation (auth.md §4:
 * USER_DB, OIDC tokens, admins), Vault expansion (§6) and the ownership rule (§7).
 *
 * Nothing here logs or returns a password or a token: owners are stored as salted scrypt hashes
 * ({@link OwnerSecrets}), tokens are checked by the {@link TokenVerifier} port. The caches that keep
 * the hot path fast belong to the auth services of the entry point (Services.auth).
 */
import { createHash } from 'node:crypto';
import type { AuthItem, Identity, InfraRecord, OwnerRecord, Services } from '#core/types';
import { adminUsers, type Config } from '#core/config';
import { ImError, errors } from '#core/errors';
import type { OwnerSecrets, VerificationLane } from '#core/owner-secrets';
import { OPENID_PREFIX, tokenIdentity } from '#core/oidc-identity';
import { expandVaultItems } from '#core/vault-auth';

export const IM_AUTH_TYPE = 'InfrastructureManager';
const ID_RE = /^[A-Za-z_.][A-Za-z0-9_.-]*$/;
/** Auth items one request may carry (IM has no cap; 200 items used to cost 200 scrypt runs). */
export const MAX_AUTH_ITEMS = 100;
/** InfrastructureManager items one request may carry (clients send one, sometimes two). */
export const MAX_IM_ITEMS = 10;

/** The caller of an operation after {@link authenticate}: its validated IM identities and every auth item. */
export interface Caller {
  identities: Identity[];
  /** All the items of the request (cloud items included, Vault items replaced), ids normalised. */
  items: AuthItem[];
  /** The owner-secret checker of the services that authenticated the caller. */
  secrets: OwnerSecrets;
  /** This request's verification budget and place in the scrypt queue. */
  lane: VerificationLane;
  /** Keyed digest of each identity's password (same order as `identities`). */
  digests: string[];
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const hasQuote = (s: string) => s.includes("'") || s.includes('"');

/** Splits on `sep` outside single/double quotes; quote characters are kept. A blank last part is dropped. */
function splitQuoted(line: string, sep: string): string[] {
  let out: string[];
  if (!hasQuote(line)) out = line.split(sep);
  else {
    out = [];
    let start = 0;
    let inSingle = false;
    let inDouble = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (ch === "'" && !inDouble) inSingle = !inSingle;
      else if (ch === '"' && !inSingle) inDouble = !inDouble;
      else if (ch === sep && !inSingle && !inDouble) {
        out.push(line.slice(start, i));
        start = i + 1;
      }
    }
    out.push(line.slice(start));
  }
  if (out.length > 0 && out[out.length - 1].trim() === '') out.pop();
  return out;
}

/** Removes the quote characters that delimit quoted runs (the other quote char stays as text). */
function unquote(value: string): string {
  if (!hasQuote(value)) return value;
  let out = '';
  let inSingle = false;
  let inDouble = false;
  for (const ch of value) {
    if (ch === "'" && !inDouble) inSingle = !inSingle;
    else if (ch === '"' && !inSingle) inDouble = !inDouble;
    else out += ch;
  }
  return out;
}

/** One `key = value; key = value` line → a flat map (auth.md §2, `=`-truncation rule included). */
export function parseAuthLine(line: string): Record<string, string> {
  const item: Record<string, string> = {};
  for (const token of splitQuoted(line, ';')) {
    const kv = splitQuoted(token, '=');
    if (kv.length !== 2) break;
    const key = unquote(kv[0].trim()).trim();
    const value = unquote(kv[1].trim()).replaceAll('\\n', '\n');
    item[key] = value;
  }
  return item;
}

function isStringMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a JSON array of auth objects; values are turned into strings. */
function parseJsonItems(text: string): Record<string, string>[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ImError('NO_AUTH_DATA', `Incorrect auth data: ${(e as Error).message}`);
  }
  if (!Array.isArray(parsed) || !parsed.every(isStringMap)) {
    throw new ImError('NO_AUTH_DATA', 'Incorrect auth data: expected a JSON array of objects');
  }
  return parsed.map((obj) => {
    const item: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v === null || v === undefined) continue;
      item[k] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
    }
    return item;
  });
}

/**
 * IM's `read_auth_data`: a list of lines (blank and `#` lines ignored), or a single line holding a
 * JSON array of auth objects. Returns raw maps (not yet normalised).
 */
export function parseAuthLines(lines: string[]): Record<string, string>[] {
  const meaningful = lines.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (meaningful.length === 1 && meaningful[0].startsWith('[') && meaningful[0].endsWith(']')) {
    return parseJsonItems(meaningful[0]);
  }
  return meaningful.map(parseAuthLine);
}

/**
 * Validates `id`s and gives items without one the generated id `<type><index>` (index = position
 * in the list). Items without a `type` cannot be used for anything and are dropped.
 */
export function normalizeAuthItems(raw: Record<string, string>[]): AuthItem[] {
  if (raw.length > MAX_AUTH_ITEMS) throw new ImError('NO_AUTH_DATA', `Incorrect auth data: more than ${MAX_AUTH_ITEMS} auth items`);
  const out: AuthItem[] = [];
  raw.forEach((item, index) => {
    if (item.id !== undefined && !ID_RE.test(item.id)) {
      throw new ImError('NO_AUTH_DATA', `Incorrect value in auth item id: ${item.id}`);
    }
    if (typeof item.type !== 'string' || item.type === '') return;
    out.push({ ...item, type: item.type, id: item.id ?? `${item.type}${index}` });
  });
  return out;
}

/** The auth file text form (real newlines between items). */
export function parseAuthText(text: string): AuthItem[] {
  return normalizeAuthItems(parseAuthLines(text.split(/\r?\n/)));
}

/** Items given as native objects (XML-RPC structs, `POST …/authorization` bodies). */
export function authItemsFromObjects(objs: unknown[]): AuthItem[] {
  if (!objs.every(isStringMap)) throw new ImError('NO_AUTH_DATA', 'Incorrect auth data: expected a list of structs');
  return normalizeAuthItems(
    objs.map((obj) => {
      const item: Record<string, string> = {};
      for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined) item[k] = String(v);
      return item;
    }),
  );
}

/**
 * The REST `Authorization` header (rest-api.md §2): `\\n` = newline inside a value, `\n` = line
 * separator, single-line JSON array accepted, `Bearer <token>` honoured only with VAULT_URL.
 */
export function parseAuthHeader(header: string | undefined, config: Pick<Config, 'VAULT_URL' | 'VAULT_PATH' | 'VAULT_MOUNT_POINT' | 'VAULT_ROLE'>): AuthItem[] {
  if (header === undefined || header.trim() === '') throw errors.noAuthData();
  if (config.VAULT_URL && header.startsWith('Bearer ')) {
    const token = header.slice(7).trim();
    const vault: Record<string, string> = { type: 'Vault', host: config.VAULT_URL, token };
    // `#USER_SUB#` stays: Vault expansion replaces it with the token's verified subject.
    if (config.VAULT_PATH) vault.path = config.VAULT_PATH;
    if (config.VAULT_MOUNT_POINT) vault.mount_point = config.VAULT_MOUNT_POINT;
    if (config.VAULT_ROLE) vault.role = config.VAULT_ROLE;
    return normalizeAuthItems([{ type: IM_AUTH_TYPE, token }, vault]);
  }
  const lines = header.replaceAll('\\\\n', '\n').split('\\n');
  return normalizeAuthItems(parseAuthLines(lines));
}

// ---------------------------------------------------------------------------------------------
// Identity validation (check_auth_data)
// ---------------------------------------------------------------------------------------------

const invalidUser = (message: string) => new ImError('INVALID_CREDENTIALS', message);

/** What {@link authenticate} needs of the services. */
export type AuthDeps = Pick<Services, 'config' | 'auth' | 'logger'>;

function isAdmin(config: Config, username: string, password: string, usedToken: boolean): boolean {
  return adminUsers(config).some(
    (a) => a.username === username && (a.password ?? '') === password && (a.token === undefined || usedToken),
  );
}

interface CheckedItem {
  identity: Identity;
  /** For token items: the token and its verified subject (Vault's `#USER_SUB#`). */
  token?: { value: string; subject: string };
}

async function checkImItem(deps: AuthDeps, item: AuthItem): Promise<CheckedItem> {
  const { config } = deps;
  if (config.FORCE_OIDC_AUTH && !item.token) throw invalidUser('No token provided for the InfrastructureManager.');
  if (item.token) {
    const t = await tokenIdentity(config, deps.auth.tokens, item.token);
    const { username, password } = t.identity;
    return {
      identity: { ...t.identity, admin: t.identity.admin || isAdmin(config, username, password, true) },
      token: { value: item.token, subject: t.subject },
    };
  }
  if (item.username === undefined) throw invalidUser('No username nor token for the InfrastructureManager.');
  const username = item.username;
  if (username.startsWith(OPENID_PREFIX)) throw invalidUser('Invalid username used for the InfrastructureManager.');
  if (item.password === undefined) throw errors.invalidCredentials();
  const password = item.password;
  if (config.USER_DB) {
    const users = await deps.auth.userDb.users(config.USER_DB);
    if (!users?.some((u) => u.username === username && u.password === password)) throw errors.invalidCredentials();
  }
  return { identity: { username, password, usedToken: false, admin: isAdmin(config, username, password, false) } };
}

export interface AuthenticateOptions {
  /** Validate the identities only (no Vault expansion): ChangeInfrastructureAuth's new owners. */
  identityOnly?: boolean;
}

/**
 * check_auth_data: validates every InfrastructureManager item, then replaces the Vault items by
 * the cloud items they hold. Identity failures are INVALID_CREDENTIALS (REST: 401 on
 * list/create/import/clouds, 400 elsewhere).
 */
export async function authenticate(deps: AuthDeps, items: AuthItem[], opts: AuthenticateOptions = {}): Promise<Caller> {
  const imItems = items.filter((i) => i.type === IM_AUTH_TYPE);
  if (imItems.length === 0) throw invalidUser('No credentials provided for the InfrastructureManager.');
  if (imItems.length > MAX_IM_ITEMS) {
    throw errors.invalidCredentials(`Too many InfrastructureManager items (at most ${MAX_IM_ITEMS}).`);
  }
  const identities: Identity[] = [];
  const seen = new Map<string, Identity>();
  const subjects = new Map<string, string>();
  for (const item of imItems) {
    const { identity, token } = await checkImItem(deps, item);
    if (token) subjects.set(token.value, token.subject);
    // The same identity twice is checked once (and an admin flag of either copy counts).
    const key = JSON.stringify([identity.username, identity.password, identity.usedToken]);
    const prev = seen.get(key);
    if (prev) prev.admin ||= identity.admin;
    else {
      seen.set(key, identity);
      identities.push(identity);
    }
  }
  let all = items;
  if (!opts.identityOnly && items.some((i) => i.type === 'Vault')) {
    all = normalizeAuthItems(await expandVaultItems({ vault: deps.auth.vault, logger: deps.logger }, items, subjects));
  }
  const secrets = deps.auth.owners;
  return { identities, items: all, secrets, lane: secrets.newLane(), digests: identities.map((i) => secrets.digest(i.password)) };
}

export function callerIsAdmin(caller: Caller): boolean {
  return caller.identities.some((i) => i.admin);
}

/** The caller's OIDC access token (its first token item), for the work that needs it (TOSCA, OpenStack). */
export function callerAccessToken(items: AuthItem[]): string | undefined {
  return items.find((i) => i.type === IM_AUTH_TYPE && i.token)?.token;
}

// ---------------------------------------------------------------------------------------------
// Owners and the ownership rule (auth.md §7)
// ---------------------------------------------------------------------------------------------

/** `ownerKey` = sha256 hex of the username (feeds the owner index). */
export function ownerKey(username: string): string {
  return createHash('sha256').update(username).digest('hex');
}

/** The owner records of the caller's identities (salted hashes, reused within the entry point). */
export async function ownerRecords(caller: Caller): Promise<OwnerRecord[]> {
  return Promise.all(caller.identities.map((i) => caller.secrets.ownerRecord(i, caller.lane)));
}

/** The (identity, owner) pairs that can match: same username, and a token owner needs a token. */
function candidates(inf: Pick<InfraRecord, 'owners'>, caller: Caller): [number, OwnerRecord][] {
  const out: [number, OwnerRecord][] = [];
  caller.identities.forEach((id, i) => {
    for (const owner of inf.owners) {
      if (owner.username !== id.username) continue;
      if (owner.usedToken && !id.usedToken) continue;
      out.push([i, owner]);
    }
  });
  return out;
}

/**
 * The ownership rule decided from the verification cache alone: true / false, or undefined when
 * some password still has to be checked (scrypt) — then use {@link isAuthorized}.
 */
export function isAuthorizedCached(inf: Pick<InfraRecord, 'owners'>, caller: Caller): boolean | undefined {
  if (callerIsAdmin(caller)) return true;
  let unknown = false;
  for (const [i, owner] of candidates(inf, caller)) {
    const ok = caller.secrets.cached(owner.passwordHash, caller.digests[i]);
    if (ok === true) return true;
    if (ok === undefined) unknown = true;
  }
  return unknown ? undefined : false;
}

/** The ownership rule (auth.md §7): admin, or username + password (+ token rule) of some owner. */
export async function isAuthorized(inf: Pick<InfraRecord, 'owners'>, caller: Caller): Promise<boolean> {
  const known = isAuthorizedCached(inf, caller);
  if (known !== undefined) return known;
  for (const [i, owner] of candidates(inf, caller)) {
    const id = caller.identities[i];
    if (await caller.secrets.matches(owner.passwordHash, id.username, id.password, caller.digests[i], caller.lane)) return true;
  }
  return false;
}
