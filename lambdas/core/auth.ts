/**
 * Authorization data: parsing (auth.md §1-2, rest-api.md §2), identity validation (auth.md §4),
 * owner secrets (salted scrypt hashes) and the ownership rule (auth.md §7).
 *
 * Nothing here logs or returns a password: owners are stored as `scrypt$salt$hash`, and the
 * in-process caches that keep the hot path fast are keyed by sha256 digests.
 */
import { createHash, createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { AuthItem, Identity, InfraRecord, OwnerRecord, Services } from '#core/types';
import { adminUsers, type Config } from '#core/config';
import { ImError, errors } from '#core/errors';

export const IM_AUTH_TYPE = 'InfrastructureManager';
const OPENID_PREFIX = '__OPENID__';
const ID_RE = /^[A-Za-z_.][A-Za-z0-9_.-]*$/;

/** The caller of an operation after {@link authenticate}: its validated IM identities and every auth item. */
export interface Caller {
  identities: Identity[];
  /** All the items of the request (cloud items included), ids normalised. */
  items: AuthItem[];
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/** Splits on `sep` outside single/double quotes; quote characters are kept. */
function splitQuoted(line: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inSingle = false;
  let inDouble = false;
  for (const ch of line) {
    if (ch === "'" && !inDouble) inSingle = !inSingle;
    else if (ch === '"' && !inSingle) inDouble = !inDouble;
    else if (ch === sep && !inSingle && !inDouble) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (cur.trim() !== '') out.push(cur);
  return out;
}

/** Removes the quote characters that delimit quoted runs (the other quote char stays as text). */
function unquote(value: string): string {
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

function decodeJwtPayload(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) throw new Error('the token is not a JWT');
  const payload: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (!isStringMap(payload)) throw new Error('the token payload is not a JSON object');
  return payload;
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
    if (config.VAULT_PATH) {
      let path = config.VAULT_PATH;
      if (path.includes('#USER_SUB#')) {
        let sub: unknown;
        try {
          sub = decodeJwtPayload(token).sub;
        } catch (e) {
          throw errors.badRequest(`Error trying to decode OIDC auth token: ${(e as Error).message}`);
        }
        path = path.replaceAll('#USER_SUB#', String(sub ?? ''));
      }
      vault.path = path;
    }
    if (config.VAULT_MOUNT_POINT) vault.mount_point = config.VAULT_MOUNT_POINT;
    if (config.VAULT_ROLE) vault.role = config.VAULT_ROLE;
    return normalizeAuthItems([{ type: IM_AUTH_TYPE, token }, vault]);
  }
  const lines = header.replaceAll('\\\\n', '\n').split('\\n');
  return normalizeAuthItems(parseAuthLines(lines));
}

// ---------------------------------------------------------------------------------------------
// Password hashes (owner secrets) with per-process caches
// ---------------------------------------------------------------------------------------------

const SCRYPT_KEYLEN = 32;
const SCRYPT_OPTS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const CACHE_MAX = 10_000;

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, SCRYPT_KEYLEN, SCRYPT_OPTS, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

const sha256 = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex');

/** (username, password) digest → the hash made for it in this process (reused: scrypt is slow). */
const hashCache = new Map<string, string>();
/**
 * Verification results: stored hash → password digest ({@link passwordDigest}) → result. Two levels,
 * so that checking one caller against many records (listings) digests the password once.
 */
const verifyCache = new Map<string, Map<string, boolean>>();
const VERIFY_PER_HASH_MAX = 16;

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= CACHE_MAX) map.delete(map.keys().next().value as string);
  map.set(key, value);
}

/** Per-process random key of the password digests: no plain sha256 of a password is kept. */
const DIGEST_KEY = randomBytes(32);

/** The keyed digest of a password that the verification cache is keyed by. */
function passwordDigest(password: string): string {
  return createHmac('sha256', DIGEST_KEY).update(password).digest('hex');
}

/** Digests of the identities of a request (an identity is checked against every record of a listing). */
const identityDigests = new WeakMap<Identity, string>();

function identityDigest(identity: Identity): string {
  let d = identityDigests.get(identity);
  if (d === undefined) {
    d = passwordDigest(identity.password);
    identityDigests.set(identity, d);
  }
  return d;
}

function cachedVerification(stored: string, digest: string): boolean | undefined {
  return verifyCache.get(stored)?.get(digest);
}

function rememberVerification(stored: string, digest: string, ok: boolean): void {
  let byPassword = verifyCache.get(stored);
  if (!byPassword) {
    byPassword = new Map();
    remember(verifyCache, stored, byPassword);
  }
  if (byPassword.size >= VERIFY_PER_HASH_MAX) byPassword.delete(byPassword.keys().next().value as string);
  byPassword.set(digest, ok);
}

/** `ownerKey` = sha256 hex of the username (feeds the owner index). */
export function ownerKey(username: string): string {
  return createHash('sha256').update(username).digest('hex');
}

/** A new salted hash `scrypt$<salt b64>$<hash b64>`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt);
  const hash = `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
  rememberVerification(hash, passwordDigest(password), true);
  return hash;
}

async function verifyDigested(password: string, digest: string, stored: string): Promise<boolean> {
  const cached = cachedVerification(stored, digest);
  if (cached !== undefined) return cached;
  const [scheme, saltB64, hashB64] = stored.split('$');
  let ok = false;
  if (scheme === 'scrypt' && saltB64 && hashB64) {
    const expected = Buffer.from(hashB64, 'base64');
    const actual = await scrypt(password, Buffer.from(saltB64, 'base64'));
    ok = expected.length === actual.length && timingSafeEqual(expected, actual);
  }
  rememberVerification(stored, digest, ok);
  return ok;
}

/** Constant-time check of a password against a stored hash (cached per process). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  return verifyDigested(password, passwordDigest(password), stored);
}

/** The owner record of an identity (the hash is reused for the same pair within the process). */
export async function ownerRecord(identity: Identity): Promise<OwnerRecord> {
  const key = sha256(identity.username, identity.password);
  let passwordHash = hashCache.get(key);
  if (!passwordHash) {
    passwordHash = await hashPassword(identity.password);
    remember(hashCache, key, passwordHash);
  }
  return { username: identity.username, passwordHash, usedToken: identity.usedToken };
}

export async function ownerRecords(caller: Caller): Promise<OwnerRecord[]> {
  return Promise.all(caller.identities.map(ownerRecord));
}

// ---------------------------------------------------------------------------------------------
// Identity validation (check_auth_data)
// ---------------------------------------------------------------------------------------------

const invalidUser = (message: string) => new ImError('INVALID_CREDENTIALS', message);

interface UserDbCache {
  path: string;
  checkedAt: number;
  mtimeMs: number;
  users: { username: string; password: string }[] | undefined;
}
let userDb: UserDbCache | undefined;
const USER_DB_RECHECK_MS = 1000;

/** USER_DB users; undefined when the file is missing/unreadable/invalid (then everybody is rejected). */
async function loadUserDb(path: string): Promise<{ username: string; password: string }[] | undefined> {
  const now = Date.now();
  if (userDb && userDb.path === path && now - userDb.checkedAt < USER_DB_RECHECK_MS) return userDb.users;
  let mtimeMs = -1;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    userDb = { path, checkedAt: now, mtimeMs, users: undefined };
    return undefined;
  }
  if (userDb && userDb.path === path && userDb.mtimeMs === mtimeMs) {
    userDb.checkedAt = now;
    return userDb.users;
  }
  let users: { username: string; password: string }[] | undefined;
  try {
    const data: unknown = JSON.parse(await readFile(path, 'utf8'));
    const list = isStringMap(data) ? data.users : undefined;
    if (Array.isArray(list)) {
      users = list.filter(isStringMap).map((u) => ({ username: String(u.username ?? ''), password: String(u.password ?? '') }));
    }
  } catch {
    users = undefined;
  }
  userDb = { path, checkedAt: now, mtimeMs, users };
  return users;
}

/** For tests: forget the cached USER_DB. */
export function resetAuthCaches(): void {
  userDb = undefined;
  hashCache.clear();
  verifyCache.clear();
}

async function checkTokenIdentity(config: Config, token: string): Promise<Identity> {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwtPayload(token);
  } catch (e) {
    throw errors.badRequest(`Error trying to decode OIDC auth token: ${(e as Error).message}`);
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now()) {
    throw errors.invalidCredentials('OIDC auth Token expired.');
  }
  if (config.OIDC_ISSUERS.length > 0 && !config.OIDC_ISSUERS.includes(String(claims.iss ?? ''))) {
    throw errors.invalidCredentials('Issuer not accepted.');
  }
  // OIDC token validation (introspection / userinfo, auth.md §5) is not implemented yet: refuse clearly.
  throw errors.invalidCredentials('OIDC access tokens are not supported by this server yet.');
}

function isAdmin(config: Config, username: string, password: string, usedToken: boolean): boolean {
  return adminUsers(config).some(
    (a) => a.username === username && (a.password ?? '') === password && (a.token === undefined || usedToken),
  );
}

async function checkImItem(config: Config, item: AuthItem): Promise<Identity> {
  if (config.FORCE_OIDC_AUTH && !item.token) throw invalidUser('No token provided for the InfrastructureManager.');
  if (item.token) return checkTokenIdentity(config, item.token);
  if (item.username === undefined) throw invalidUser('No username nor token for the InfrastructureManager.');
  const username = item.username;
  if (username.startsWith(OPENID_PREFIX)) throw invalidUser('Invalid username used for the InfrastructureManager.');
  if (item.password === undefined) throw errors.invalidCredentials();
  const password = item.password;
  if (config.USER_DB) {
    const users = await loadUserDb(config.USER_DB);
    if (!users?.some((u) => u.username === username && u.password === password)) throw errors.invalidCredentials();
  }
  return { username, password, usedToken: false, admin: isAdmin(config, username, password, false) };
}

/**
 * check_auth_data: validates every InfrastructureManager item. Identity failures are
 * INVALID_CREDENTIALS (REST: 401 on list/create/import/clouds, 400 elsewhere).
 */
export async function authenticate(services: Pick<Services, 'config'>, items: AuthItem[]): Promise<Caller> {
  const imItems = items.filter((i) => i.type === IM_AUTH_TYPE);
  if (imItems.length === 0) throw invalidUser('No credentials provided for the InfrastructureManager.');
  const identities: Identity[] = [];
  for (const item of imItems) identities.push(await checkImItem(services.config, item));
  return { identities, items };
}

export function callerIsAdmin(caller: Caller): boolean {
  return caller.identities.some((i) => i.admin);
}

/**
 * The ownership rule decided from this process's verification cache alone: true / false, or
 * undefined when some password still has to be checked (scrypt) — then use {@link isAuthorized}.
 */
export function isAuthorizedCached(inf: Pick<InfraRecord, 'owners'>, caller: Caller): boolean | undefined {
  if (callerIsAdmin(caller)) return true;
  let unknown = false;
  for (const id of caller.identities) {
    for (const owner of inf.owners) {
      if (owner.username !== id.username) continue;
      if (owner.usedToken && !id.usedToken) continue;
      const ok = cachedVerification(owner.passwordHash, identityDigest(id));
      if (ok === true) return true;
      if (ok === undefined) unknown = true;
    }
  }
  return unknown ? undefined : false;
}

/** The ownership rule (auth.md §7): admin, or username + password (+ token rule) of some owner. */
export async function isAuthorized(inf: Pick<InfraRecord, 'owners'>, caller: Caller): Promise<boolean> {
  const known = isAuthorizedCached(inf, caller);
  if (known !== undefined) return known;
  for (const id of caller.identities) {
    for (const owner of inf.owners) {
      if (owner.username !== id.username) continue;
      if (owner.usedToken && !id.usedToken) continue;
      if (await verifyDigested(id.password, identityDigest(id), owner.passwordHash)) return true;
    }
  }
  return false;
}
