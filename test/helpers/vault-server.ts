/**
 * A Vault-compatible HTTP server for the tests (Vault cannot run on these machines), written from
 * Vault's HTTP API documentation, not from our client:
 *
 *  - `POST /v1/auth/jwt/login` `{role, jwt}` (JWT auth method): the JWT is verified against the
 *    configured issuer's JWKS (signature, `iss`, expiry) and the role's `bound_audiences`; the
 *    answer is Vault's `{request_id, lease_id, renewable, lease_duration, data, wrap_info, warnings,
 *    auth: {client_token, accessor, policies, token_policies, metadata, lease_duration, renewable,
 *    entity_id, token_type, orphan}}`. Errors are `{"errors": [...]}`: 400 `missing role`,
 *    400 `role "x" could not be found`, 400 `error validating token: …`, 400 `error validating
 *    claims: …`.
 *  - KV version 1: `GET /v1/<mount>/<path>` → `{…, lease_duration: 2764800, data: {k: v}}`;
 *    404 `{"errors": []}` when absent.
 *  - KV version 2: `GET /v1/<mount>/data/<path>` → `{…, data: {data: {k: v}, metadata:
 *    {created_time, custom_metadata, deletion_time, destroyed, version}}}`; 404 `{"errors": []}`
 *    when absent; a v1 path on a v2 mount → 404 with the "Invalid path for a versioned K/V secrets
 *    engine" warning.
 *  - `GET /v1/sys/internal/ui/mounts/<path>` → `{data: {type: "kv", path: "<mount>/", options:
 *    {version}}}` (what the Vault CLI asks to tell v1 from v2); a mount marked `hidden` answers 403
 *    `preflight capability check returned 403…`.
 *  - `X-Vault-Token` missing or unknown → 403 `{"errors": ["permission denied"]}`; the policy of a
 *    login token allows reading the paths that name its entity id or its user (`sub`) only
 *    (templated ACL policies), anything else is 403 `1 error occurred: permission denied`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';

export interface VaultMount {
  version: 1 | 2;
  /** path → key/value pairs */
  secrets: Record<string, Record<string, unknown>>;
  /** sys/internal/ui/mounts answers 403 for it (the client cannot tell its version). */
  hidden?: boolean;
}

export interface VaultRole {
  bound_audiences?: string[];
  /** Claim naming the user (Vault's `user_claim`, default `sub`). */
  user_claim?: string;
}

export interface FakeVaultOptions {
  /** The OIDC issuer whose tokens log in (its `<issuer>/jwks`). */
  issuer: string;
  jwksUrl: string;
  roles: Record<string, VaultRole>;
  default_role?: string;
  mounts: Record<string, VaultMount>;
}

export interface FakeVault {
  url: string;
  /** The entity id Vault gives the user `name` (deterministic, UUID-shaped). */
  entityId(name: string): string;
  /** Client tokens handed out (the tests check that none is logged). */
  issuedTokens: string[];
  hits: Record<string, number>;
  mounts: Record<string, VaultMount>;
  stop(): Promise<void>;
}

const envelope = (extra: Record<string, unknown>) => ({
  request_id: randomUUID(),
  lease_id: '',
  renewable: false,
  lease_duration: 0,
  data: null,
  wrap_info: null,
  warnings: null,
  auth: null,
  ...extra,
});

export async function startFakeVault(opts: FakeVaultOptions): Promise<FakeVault> {
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl));
  const tokens = new Map<string, { entityId: string; user: string }>();
  const hits: Record<string, number> = {};
  const issuedTokens: string[] = [];
  const entityId = (name: string) => {
    const h = createHash('sha256').update(`entity:${name}`).digest('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });

  async function login(req: IncomingMessage, res: ServerResponse) {
    let body: { role?: string; jwt?: string };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch {
      return send(res, 400, { errors: ['failed to parse JSON input: invalid character'] });
    }
    const roleName = body.role ?? opts.default_role;
    if (!roleName) return send(res, 400, { errors: ['missing role'] });
    const role = opts.roles[roleName];
    if (!role) return send(res, 400, { errors: [`role "${roleName}" could not be found`] });
    if (!body.jwt) return send(res, 400, { errors: ['missing token'] });
    let claims: Record<string, unknown>;
    try {
      claims = (await jwtVerify(body.jwt, jwks, { issuer: opts.issuer })).payload as Record<string, unknown>;
    } catch (e) {
      return send(res, 400, { errors: [`error validating token: ${(e as Error).message}`] });
    }
    if (role.bound_audiences?.length) {
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!aud.some((a) => role.bound_audiences?.includes(String(a)))) {
        return send(res, 400, { errors: ['error validating claims: aud claim does not match any bound audience'] });
      }
    }
    const user = String(claims[role.user_claim ?? 'sub'] ?? '');
    if (!user) return send(res, 400, { errors: [`claim "${role.user_claim ?? 'sub'}" not found in token`] });
    const clientToken = `hvs.${randomUUID().replaceAll('-', '')}`;
    issuedTokens.push(clientToken);
    const id = entityId(user);
    tokens.set(clientToken, { entityId: id, user });
    send(
      res,
      200,
      envelope({
        auth: {
          client_token: clientToken,
          accessor: randomUUID(),
          policies: ['default', roleName],
          token_policies: ['default', roleName],
          metadata: { role: roleName },
          lease_duration: 3600,
          renewable: true,
          entity_id: id,
          token_type: 'service',
          orphan: true,
          mfa_requirement: null,
          num_uses: 0,
        },
      }),
    );
  }

  function read(path: string, who: { entityId: string; user: string }, res: ServerResponse) {
    const mountName = Object.keys(opts.mounts).find((m) => path === m || path.startsWith(`${m}/`));
    if (!mountName) return send(res, 404, { errors: ['no handler for route "' + path + '". route entry not found.'] });
    const mount = opts.mounts[mountName];
    let rest = path.slice(mountName.length + 1);
    if (mount.version === 2) {
      if (!rest.startsWith('data/')) {
        return send(res, 404, {
          errors: [],
          warnings: [
            "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation.",
          ],
        });
      }
      rest = rest.slice('data/'.length);
    }
    const segments = rest.split('/');
    if (!segments.includes(who.entityId) && !segments.includes(who.user)) {
      return send(res, 403, { errors: ['1 error occurred:\n\t* permission denied\n\n'] });
    }
    const secret = mount.secrets[rest];
    if (!secret) return send(res, 404, { errors: [] });
    if (mount.version === 1) return send(res, 200, envelope({ lease_duration: 2764800, data: secret }));
    send(
      res,
      200,
      envelope({
        data: {
          data: secret,
          metadata: { created_time: '2024-01-01T00:00:00.000000000Z', custom_metadata: null, deletion_time: '', destroyed: false, version: 1 },
        },
      }),
    );
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://vault');
    const path = decodeURIComponent(url.pathname);
    hits[path] = (hits[path] ?? 0) + 1;
    if (req.method === 'POST' && path === '/v1/auth/jwt/login') {
      void login(req, res);
      return;
    }
    const who = tokens.get(String(req.headers['x-vault-token'] ?? ''));
    if (!who) return send(res, 403, { errors: ['permission denied'] });
    if (req.method !== 'GET') return send(res, 405, { errors: ['unsupported operation'] });
    const ui = '/v1/sys/internal/ui/mounts/';
    if (path.startsWith(ui)) {
      const target = path.slice(ui.length).replace(/\/+$/, '');
      const name = Object.keys(opts.mounts).find((m) => target === m || target.startsWith(`${m}/`));
      if (!name || opts.mounts[name].hidden) {
        return send(res, 403, { errors: [`preflight capability check returned 403, please ensure client's policies grant access to path "${target}/"`] });
      }
      return send(
        res,
        200,
        envelope({
          data: {
            accessor: `kv_${name}`,
            config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
            description: '',
            external_entropy_access: false,
            local: false,
            options: opts.mounts[name].version === 2 ? { version: '2' } : null,
            path: `${name}/`,
            seal_wrap: false,
            type: 'kv',
            uuid: randomUUID(),
          },
        }),
      );
    }
    if (!path.startsWith('/v1/')) return send(res, 404, { errors: [] });
    read(path.slice('/v1/'.length).replace(/\/+$/, ''), who, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    entityId,
    issuedTokens,
    hits,
    mounts: opts.mounts,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
