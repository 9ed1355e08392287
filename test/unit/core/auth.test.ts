import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '#core/config';
import { ImError } from '#core/errors';
import type { AuthItem, InfraRecord } from '#core/types';
import { authenticate, isAuthorized, MAX_AUTH_ITEMS, MAX_IM_ITEMS, ownerKey, parseAuthHeader, parseAuthLine, parseAuthText, type Caller } from '#core/auth';
import { OwnerSecrets } from '#core/owner-secrets';
import { createAuthServices } from '#adapters/auth-services';

const cfg = (env: Record<string, string> = {}): Config => loadConfig(env);
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const svc = (env: Record<string, string> = {}) => {
  const config = cfg(env);
  return { config, logger, auth: createAuthServices({ config }) };
};

async function failure(p: Promise<unknown>): Promise<ImError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ImError);
    return e as ImError;
  }
  throw new Error('expected a failure');
}

function jwt(payload: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64(payload)}.sig`;
}

describe('auth line parsing (auth.md §2)', () => {
  it('splits key = value pairs and trims', () => {
    expect(parseAuthLine(' id = one ;type=Dummy; ')).toEqual({ id: 'one', type: 'Dummy' });
  });

  it('quotes protect ; and = and are removed', () => {
    expect(parseAuthLine(`type = EC2; password = "a;b=c"; username = 'x"y'`)).toEqual({ type: 'EC2', password: 'a;b=c', username: 'x"y' });
  });

  it('stops the rest of the line at an unquoted = in a value (earlier keys kept)', () => {
    expect(parseAuthLine('type = OpenStack; password = abc==; host = h')).toEqual({ type: 'OpenStack' });
    expect(parseAuthLine('type = OpenStack; password = "abc=="; host = h')).toEqual({ type: 'OpenStack', password: 'abc==', host: 'h' });
  });

  it('turns \\n inside a value into a newline', () => {
    expect(parseAuthLine('type = X; private_key = a\\nb').private_key).toBe('a\nb');
  });

  it('ignores blank and # lines and gives ids <type><index>', () => {
    const items = parseAuthText('# comment\n\ntype = InfrastructureManager; username = u; password = p\ntype = Dummy\nid = d; type = Dummy\n');
    expect(items).toEqual([
      { type: 'InfrastructureManager', username: 'u', password: 'p', id: 'InfrastructureManager0' },
      { type: 'Dummy', id: 'Dummy1' },
      { type: 'Dummy', id: 'd' },
    ]);
  });

  it('rejects a bad id with IM text', () => {
    expect(() => parseAuthText('id = 1abc; type = Dummy')).toThrow('Incorrect value in auth item id: 1abc');
    expect(() => parseAuthText('id = a b; type = Dummy')).toThrow('Incorrect value in auth item id: a b');
    expect(parseAuthText('id = _a.b-c; type = Dummy')[0].id).toBe('_a.b-c');
  });

  it('accepts a single-line JSON array', () => {
    const items = parseAuthText('[{"type": "InfrastructureManager", "username": "u", "password": "p"}, {"id": "d", "type": "Dummy"}]');
    expect(items[1]).toEqual({ id: 'd', type: 'Dummy' });
    expect(items[0].id).toBe('InfrastructureManager0');
  });
});

describe('Authorization header (rest-api.md §2)', () => {
  const config = cfg();

  it('parses the im_client form: literal \\n separates lines', () => {
    const items = parseAuthHeader('type = InfrastructureManager; username = user; password = pass\\nid = one; type = Dummy', config);
    expect(items).toEqual([
      { type: 'InfrastructureManager', username: 'user', password: 'pass', id: 'InfrastructureManager0' },
      { id: 'one', type: 'Dummy' },
    ]);
  });

  it('decodes \\\\n as a newline inside a value', () => {
    const items = parseAuthHeader('id = k; type = Kubernetes; token = l1\\\\nl2\\ntype = InfrastructureManager; username = u; password = p', config);
    expect(items[0].token).toBe('l1\nl2');
    expect(items[1].username).toBe('u');
  });

  it('accepts a JSON array and trailing ;', () => {
    expect(parseAuthHeader('[{"type":"Dummy","id":"d"}]', config)).toEqual([{ type: 'Dummy', id: 'd' }]);
    expect(parseAuthHeader('type = Dummy;', config)).toEqual([{ type: 'Dummy', id: 'Dummy0' }]);
  });

  it('missing header → 401 No authentication data provided', () => {
    const e = (() => {
      try {
        parseAuthHeader(undefined, config);
      } catch (err) {
        return err as ImError;
      }
    })();
    expect(e?.message).toBe('No authentication data provided');
    expect(e?.mapping.http).toBe(401);
  });

  it('garbage yields no items; a bad JSON array is a 401', () => {
    expect(parseAuthHeader('garbage', config)).toEqual([]);
    expect(() => parseAuthHeader('[{"type": ]', config)).toThrow(ImError);
  });

  it('Bearer without VAULT_URL is just a line (no IM credentials)', () => {
    expect(parseAuthHeader('Bearer abc.def.ghi', config)).toEqual([]);
  });

  it('Bearer with VAULT_URL → IM token item + Vault item', () => {
    const token = jwt({ sub: 'user-sub', iss: 'https://iss' });
    const items = parseAuthHeader(`Bearer ${token}`, cfg({ VAULT_URL: 'https://vault', VAULT_PATH: 'secrets/#USER_SUB#', VAULT_ROLE: 'r' }));
    expect(items[0]).toMatchObject({ type: 'InfrastructureManager', token });
    // The subject is put in the path once the token is verified (core/vault-auth.ts).
    expect(items[1]).toMatchObject({ type: 'Vault', host: 'https://vault', token, path: 'secrets/#USER_SUB#', role: 'r' });
  });
});

describe('identity validation (auth.md §4)', () => {
  const im = (extra: Record<string, string>): AuthItem => ({ type: 'InfrastructureManager', id: 'im', ...extra });

  it('accepts any pair with an empty USER_DB', async () => {
    const c = await authenticate(svc(), [im({ username: 'u', password: 'p' }), { type: 'Dummy', id: 'd' }]);
    expect(c.identities).toEqual([{ username: 'u', password: 'p', usedToken: false, admin: false }]);
    expect(c.items).toHaveLength(2);
  });

  it('no IM item → No credentials provided (INVALID_CREDENTIALS)', async () => {
    const e = await failure(authenticate(svc(), [{ type: 'Dummy', id: 'd' }]));
    expect(e.message).toBe('No credentials provided for the InfrastructureManager.');
    expect(e.code).toBe('INVALID_CREDENTIALS');
  });

  it('neither username nor token', async () => {
    expect((await failure(authenticate(svc(), [im({})]))).message).toBe('No username nor token for the InfrastructureManager.');
  });

  it('rejects __OPENID__ usernames', async () => {
    expect((await failure(authenticate(svc(), [im({ username: '__OPENID__x', password: 'p' })]))).message).toBe(
      'Invalid username used for the InfrastructureManager.',
    );
  });

  it('FORCE_OIDC_AUTH without token', async () => {
    expect((await failure(authenticate(svc({ FORCE_OIDC_AUTH: 'true' }), [im({ username: 'u', password: 'p' })]))).message).toBe(
      'No token provided for the InfrastructureManager.',
    );
  });

  it('tokens fail cleanly without any issuer contacted: undecodable → 400, expired / foreign issuer → 401', async () => {
    const bad = await failure(authenticate(svc(), [im({ token: 'not-a-jwt' })]));
    expect(bad.code).toBe('BAD_REQUEST');
    expect(bad.message).toMatch(/^Error trying to decode OIDC auth token: /);
    const expired = await failure(authenticate(svc(), [im({ token: jwt({ exp: 1, iss: 'i', sub: 's' }) })]));
    expect(expired.message).toBe('Invalid InfrastructureManager credentials. OIDC auth Token expired.');
    const issuer = await failure(authenticate(svc({ OIDC_ISSUERS: 'https://good' }), [im({ token: jwt({ iss: 'https://bad', sub: 's', exp: 4e9 }) })]));
    expect(issuer.message).toBe('Invalid InfrastructureManager credentials. Issuer not accepted.');
    // No OIDC_ISSUERS: no issuer is accepted (and none is ever contacted).
    const none = await failure(authenticate(svc(), [im({ token: jwt({ iss: 'https://good', sub: 's', exp: 4e9 }) })]));
    expect(none.message).toBe('Invalid InfrastructureManager credentials. Issuer not accepted.');
    const noExp = await failure(authenticate(svc(), [im({ token: jwt({ iss: 'https://good', sub: 's' }) })]));
    expect(noExp.message).toBe('Invalid InfrastructureManager credentials. OIDC auth Error getting token info.');
  });

  it('USER_DB: listed pairs only; unreadable file rejects everybody', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'userdb-'));
    const file = join(dir, 'users.json');
    writeFileSync(file, JSON.stringify({ users: [{ username: 'alice', password: 'secret' }] }));
    const env = { USER_DB: file };
    await expect(authenticate(svc(env), [im({ username: 'alice', password: 'secret' })])).resolves.toBeTruthy();
    expect((await failure(authenticate(svc(env), [im({ username: 'alice', password: 'nope' })]))).message).toBe(
      'Invalid InfrastructureManager credentials',
    );
    const e = await failure(authenticate(svc({ USER_DB: join(dir, 'missing.json') }), [im({ username: 'alice', password: 'secret' })]));
    expect(e.code).toBe('INVALID_CREDENTIALS');
  });

  it('ADMIN_USER marks admins (object or list)', async () => {
    const env = { ADMIN_USER: JSON.stringify([{ username: 'root', password: 'r00t' }]) };
    expect((await authenticate(svc(env), [im({ username: 'root', password: 'r00t' })])).identities[0].admin).toBe(true);
    expect((await authenticate(svc(env), [im({ username: 'root', password: 'x' })])).identities[0].admin).toBe(false);
    const one = { ADMIN_USER: JSON.stringify({ username: 'root', password: 'r00t' }) };
    expect((await authenticate(svc(one), [im({ username: 'root', password: 'r00t' })])).identities[0].admin).toBe(true);
  });
});

describe('owner secrets and ownership (auth.md §7)', () => {
  it('hashes with scrypt and verifies in constant time', async () => {
    const h = await new OwnerSecrets().hash('p4ss');
    expect(h).toMatch(/^scrypt\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(h).not.toContain('p4ss');
    const fresh = new OwnerSecrets();
    const check = (pw: string, stored: string) => fresh.matches(stored, 'u', pw, fresh.digest(pw), fresh.newLane());
    expect(await check('p4ss', h)).toBe(true);
    expect(await check('p4sS', h)).toBe(false);
    expect(await check('p4ss', 'garbage')).toBe(false);
  });

  it('ownerKey is the sha256 hex of the username', () => {
    expect(ownerKey('user')).toBe('04f8996da763b7a969b1028ee3007569eaf3a635486ddab211d512c85b9df8fb');
  });

  it('owner + password (+ token rule); admins see all', async () => {
    const secrets = new OwnerSecrets();
    const owner = await secrets.ownerRecord({ username: 'u', password: 'p', usedToken: false, admin: false });
    const inf: Pick<InfraRecord, 'owners'> = { owners: [owner] };
    const caller = (username: string, password: string, admin = false, usedToken = false): Caller => ({
      items: [],
      identities: [{ username, password, admin, usedToken }],
      secrets,
      lane: secrets.newLane(),
      digests: [secrets.digest(password)],
    });
    expect(await isAuthorized(inf, caller('u', 'p'))).toBe(true);
    expect(await isAuthorized(inf, caller('u', 'x'))).toBe(false);
    expect(await isAuthorized(inf, caller('v', 'p'))).toBe(false);
    expect(await isAuthorized(inf, caller('v', 'x', true))).toBe(true);
    const tokenOwner = { owners: [{ ...owner, usedToken: true }] };
    expect(await isAuthorized(tokenOwner, caller('u', 'p'))).toBe(false);
    expect(await isAuthorized(tokenOwner, caller('u', 'p', false, true))).toBe(true);
  });
});

describe('auth item caps (issue 12: expensive auth headers)', () => {
  const im = (i: number): AuthItem => ({ type: 'InfrastructureManager', id: `im${i}`, username: 'u', password: `p${i}` });

  it(`more than ${MAX_AUTH_ITEMS} items is refused before any work`, () => {
    const lines = Array.from({ length: MAX_AUTH_ITEMS + 1 }, (_, i) => `id = d${i}; type = Dummy`).join('\\n');
    expect(() => parseAuthHeader(lines, cfg())).toThrow(`Incorrect auth data: more than ${MAX_AUTH_ITEMS} auth items`);
  });

  it(`more than ${MAX_IM_ITEMS} InfrastructureManager items is refused`, async () => {
    const e = await failure(authenticate(svc(), Array.from({ length: MAX_IM_ITEMS + 1 }, (_, i) => im(i))));
    expect(e.code).toBe('INVALID_CREDENTIALS');
    expect(e.message).toBe(`Invalid InfrastructureManager credentials. Too many InfrastructureManager items (at most ${MAX_IM_ITEMS}).`);
  });

  it('the same identity twice is one identity', async () => {
    const c = await authenticate(svc(), [im(1), { ...im(1), id: 'again' }]);
    expect(c.identities).toHaveLength(1);
  });
});
