/**
 * The CredentialVault port on Vault's HTTP API:
 *  - `POST /v1/auth/jwt/login` `{jwt, role?}` → `auth.client_token`, `auth.entity_id`;
 *  - the KV version of the mount from `GET /v1/sys/internal/ui/mounts/<mount>` (what the Vault CLI
 *    asks; `options.version`), then `GET /v1/<mount>/<path>` (KV v1: the pairs are `data`) or
 *    `GET /v1/<mount>/data/<path>` (KV v2: `data.data`); when the mount cannot be described, v1 is
 *    read first and v2 tried when Vault says the path belongs to a versioned engine.
 *
 * Logins are reused while their lease lasts (at most 5 minutes) and secrets for a few seconds, per
 * instance, keyed by sha256 digests (never a token in clear).
 */
import { createHash } from 'node:crypto';
import { errors } from '#core/errors';
import type { CredentialVault, VaultLogin } from '#core/auth-ports';
import { HttpFailure, jsonObject, type HttpClient } from '#adapters/http/client';

export interface VaultClientOptions {
  http: HttpClient;
  /** Reuse of a login (default: its lease, at most 5 min). */
  loginTtlMs?: number;
  /** Reuse of a secret read (default 15 s). */
  secretTtlMs?: number;
  now?: () => number;
}

interface Entry<T> {
  value: T;
  until: number;
}

const sha256 = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex');
const trim = (s: string) => s.replace(/^\/+|\/+$/g, '');
const base = (host: string) => host.replace(/\/+$/, '');
const encodePath = (p: string) => trim(p).split('/').map(encodeURIComponent).join('/');

export class HttpCredentialVault implements CredentialVault {
  private readonly logins = new Map<string, Entry<VaultLogin>>();
  private readonly secrets = new Map<string, Entry<Record<string, unknown> | undefined>>();
  private readonly versions = new Map<string, Entry<1 | 2 | undefined>>();
  private readonly now: () => number;

  constructor(private readonly opts: VaultClientOptions) {
    this.now = opts.now ?? Date.now;
  }

  async login(host: string, jwt: string, role?: string): Promise<VaultLogin> {
    const key = sha256(host, jwt, role ?? '');
    const hit = this.get(this.logins, key);
    if (hit) return hit;
    let answer;
    try {
      answer = await this.opts.http(`${base(host)}/v1/auth/jwt/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jwt, ...(role ? { role } : {}) }),
      });
    } catch (err) {
      throw errors.badRequest(`Error getting Vault token: ${(err as Error).message}`);
    }
    if (answer.status < 200 || answer.status > 299) {
      throw errors.badRequest(`Error getting Vault token: ${answer.status} - ${answer.text.slice(0, 500).replaceAll(jwt, '[token]')}`);
    }
    const body = jsonObject(answer, 'Vault login');
    const auth = (body.auth ?? {}) as Record<string, unknown>;
    if (typeof auth.client_token !== 'string' || auth.client_token === '') {
      throw errors.badRequest(`Error getting Vault token: ${answer.status} - no client token in the answer`);
    }
    const login = { clientToken: auth.client_token, entityId: typeof auth.entity_id === 'string' ? auth.entity_id : '' };
    const lease = typeof auth.lease_duration === 'number' && auth.lease_duration > 0 ? auth.lease_duration * 1000 : Infinity;
    this.set(this.logins, key, login, Math.min(lease / 2, this.opts.loginTtlMs ?? 300_000));
    return login;
  }

  async readSecret(host: string, clientToken: string, mountPoint: string, path: string): Promise<Record<string, unknown> | undefined> {
    const key = sha256(host, clientToken, mountPoint, path);
    const hit = this.secrets.get(key);
    if (hit && hit.until > this.now()) return hit.value;
    const mount = trim(mountPoint);
    const version = await this.kvVersion(host, clientToken, mount);
    let value: Record<string, unknown> | undefined;
    if (version === 2) value = await this.readV2(host, clientToken, mount, path);
    else {
      const v1 = await this.read(`${base(host)}/v1/${encodePath(mount)}/${encodePath(path)}`, clientToken);
      if (v1.versioned && version === undefined) value = await this.readV2(host, clientToken, mount, path);
      else value = v1.data;
    }
    this.set(this.secrets, key, value, this.opts.secretTtlMs ?? 15_000);
    return value;
  }

  private async readV2(host: string, token: string, mount: string, path: string) {
    const r = await this.read(`${base(host)}/v1/${encodePath(mount)}/data/${encodePath(path)}`, token);
    const inner = r.data?.data;
    return typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? (inner as Record<string, unknown>) : undefined;
  }

  /** KV version of a mount (undefined: Vault would not say). */
  private async kvVersion(host: string, token: string, mount: string): Promise<1 | 2 | undefined> {
    const key = sha256(host, token, mount);
    const hit = this.versions.get(key);
    if (hit && hit.until > this.now()) return hit.value;
    let version: 1 | 2 | undefined;
    try {
      const answer = await this.opts.http(`${base(host)}/v1/sys/internal/ui/mounts/${encodePath(mount)}`, { headers: { 'x-vault-token': token } });
      if (answer.status === 200) {
        const data = (jsonObject(answer, 'Vault mount').data ?? {}) as Record<string, unknown>;
        const options = (data.options ?? {}) as Record<string, unknown>;
        version = String(options.version ?? '1') === '2' ? 2 : 1;
      }
    } catch {
      version = undefined;
    }
    this.set(this.versions, key, version, 300_000);
    return version;
  }

  /** GET a secret: 404 → no data (`versioned` when Vault says the mount is KV v2). */
  private async read(url: string, token: string): Promise<{ data?: Record<string, unknown>; versioned?: boolean }> {
    const answer = await this.opts.http(url, { headers: { 'x-vault-token': token } });
    if (answer.status === 404) {
      let versioned = false;
      try {
        const warnings = jsonObject(answer, 'Vault').warnings;
        versioned = Array.isArray(warnings) && warnings.some((w) => String(w).includes('versioned K/V'));
      } catch {
        versioned = false;
      }
      return { versioned };
    }
    if (answer.status !== 200) throw new HttpFailure(`Vault answered ${answer.status} reading the secret`);
    const data = jsonObject(answer, 'Vault secret').data;
    return { data: typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined };
  }

  private get<T>(map: Map<string, Entry<T>>, key: string): T | undefined {
    const e = map.get(key);
    return e && e.until > this.now() ? e.value : undefined;
  }

  private set<T>(map: Map<string, Entry<T>>, key: string, value: T, ttlMs: number): void {
    while (map.size >= 10_000) map.delete(map.keys().next().value as string);
    map.set(key, { value, until: this.now() + ttlMs });
  }
}
