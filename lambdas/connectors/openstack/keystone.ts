/**
 * Keystone sign-in (openstack.md §1.3): v3 password, v3 application credential, v3 OIDC access token
 * (federation: unscoped token from the identity provider's protocol, project choice, scoped token) and the
 * legacy v2.0 password flow. Returns the token, its expiry and the service catalog in one normalised shape.
 */
import type { HttpResponse, HttpTransport } from '#connectors/openstack/http';
import { HttpTransportError } from '#connectors/openstack/http';
import { OpenStackAuthError } from '#connectors/openstack/errors';
import type { OstAuth } from '#connectors/openstack/auth-item';

/** One endpoint of the catalog; v2 entries are normalised (publicURL → interface public). */
export interface CatalogEndpoint {
  region?: string;
  interface: string;
  url: string;
}

export interface CatalogService {
  type: string;
  name: string;
  endpoints: CatalogEndpoint[];
}

export interface KeystoneToken {
  /** The token (X-Auth-Token value). Secret. */
  id: string;
  /** Epoch ms; undefined when Keystone gave none. */
  expiresAt?: number;
  catalog: CatalogService[];
  userId?: string;
  projectId?: string;
}

const JSON_HEADERS = { Accept: 'application/json', 'Content-Type': 'application/json; charset=UTF-8' };

type Obj = Record<string, unknown>;
const obj = (x: unknown): Obj => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Obj) : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);

function parseJson(res: HttpResponse): Obj {
  try {
    return obj(JSON.parse(res.body));
  } catch {
    throw malformed(res);
  }
}

function malformed(res: HttpResponse): OpenStackAuthError {
  return new OpenStackAuthError(`Malformed response: code: ${res.status} body: ${res.body.slice(0, 500)}`, { transient: res.status >= 500 });
}

/** Keystone's answer → success or IM's error texts. */
function check(res: HttpResponse, ok: number[]): void {
  if (ok.includes(res.status)) return;
  if (res.status === 401) throw new OpenStackAuthError("'Invalid credentials with the provider'", { rejected: true });
  if (res.status === 300) throw new OpenStackAuthError('Keystone answered 300 Multiple Choices: ambiguous version (check the path of the auth host)');
  throw malformed(res);
}

async function send(http: HttpTransport, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResponse> {
  try {
    return await http({ method, url, headers: { ...JSON_HEADERS, ...headers }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    if (err instanceof HttpTransportError) throw new OpenStackAuthError(`Error connecting with OpenStack server: ${err.message}`, { transient: true });
    throw err;
  }
}

function v3Catalog(token: Obj): CatalogService[] {
  return arr(token.catalog).map((s) => {
    const o = obj(s);
    return {
      type: str(o.type) ?? '',
      name: str(o.name) ?? '',
      endpoints: arr(o.endpoints).map((e) => {
        const x = obj(e);
        const region = str(x.region) ?? str(x.region_id);
        return { interface: str(x.interface) ?? '', url: str(x.url) ?? '', ...(region ? { region } : {}) };
      }),
    };
  });
}

function v3Token(res: HttpResponse): KeystoneToken {
  const id = res.headers['x-subject-token'];
  const token = obj(parseJson(res).token);
  if (!id) throw malformed(res);
  const expires = str(token.expires_at);
  const userId = str(obj(token.user).id);
  const projectId = str(obj(token.project).id);
  return {
    id,
    catalog: v3Catalog(token),
    ...(expires && !Number.isNaN(Date.parse(expires)) ? { expiresAt: Date.parse(expires) } : {}),
    ...(userId ? { userId } : {}),
    ...(projectId ? { projectId } : {}),
  };
}

async function v3Password(http: HttpTransport, a: OstAuth): Promise<KeystoneToken> {
  const body = {
    auth: {
      identity: { methods: ['password'], password: { user: { name: a.username, password: a.password, domain: { name: a.domain ?? 'Default' } } } },
      scope: { project: { name: a.tenant, domain: { id: a.tenantDomainId } } },
    },
  };
  const res = await send(http, 'POST', `${a.host.keystoneBase}/v3/auth/tokens`, body);
  check(res, [200, 201]);
  return v3Token(res);
}

async function v3AppCred(http: HttpTransport, a: OstAuth): Promise<KeystoneToken> {
  const body = { auth: { identity: { methods: ['application_credential'], application_credential: { id: a.username, secret: a.password } } } };
  const res = await send(http, 'POST', `${a.host.keystoneBase}/v3/auth/tokens`, body);
  check(res, [200, 201]);
  return v3Token(res);
}

/** Federation: the caller's OIDC access token (the item's password) → unscoped token → project → scoped token. */
async function v3Oidc(http: HttpTransport, a: OstAuth): Promise<KeystoneToken> {
  const base = a.host.keystoneBase;
  const idp = encodeURIComponent(a.username ?? '');
  const proto = encodeURIComponent(a.tenant ?? '');
  const res = await send(http, 'GET', `${base}/v3/OS-FEDERATION/identity_providers/${idp}/protocols/${proto}/auth`, undefined, {
    Authorization: `Bearer ${a.password ?? ''}`,
  });
  check(res, [200, 201]);
  const unscoped = res.headers['x-subject-token'];
  if (!unscoped) throw malformed(res);
  let projects = await send(http, 'GET', `${base}/v3/auth/projects`, undefined, { 'X-Auth-Token': unscoped });
  if (![200, 201, 401].includes(projects.status)) projects = await send(http, 'GET', `${base}/v3/OS-FEDERATION/projects`, undefined, { 'X-Auth-Token': unscoped });
  check(projects, [200, 201]);
  const list = arr(parseJson(projects).projects).map(obj);
  const wanted = a.domain;
  const project = !wanted || wanted === 'Default' ? list[0] : list.find((p) => str(p.name) === wanted || str(p.id) === wanted);
  if (!project || !str(project.id)) throw new OpenStackAuthError(`Project ${wanted ?? ''} not found`);
  const body = { auth: { identity: { methods: ['token'], token: { id: unscoped } }, scope: { project: { id: str(project.id) } } } };
  const scoped = await send(http, 'POST', `${base}/v3/auth/tokens`, body);
  check(scoped, [200, 201]);
  return v3Token(scoped);
}

async function v2Password(http: HttpTransport, a: OstAuth): Promise<KeystoneToken> {
  const body = { auth: { passwordCredentials: { username: a.username, password: a.password }, tenantName: a.tenant } };
  const res = await send(http, 'POST', `${a.host.keystoneBase}/v2.0/tokens`, body);
  check(res, [200, 203]);
  const access = obj(parseJson(res).access);
  const token = obj(access.token);
  const id = str(token.id);
  if (!id) throw malformed(res);
  const expires = str(token.expires);
  const userId = str(obj(access.user).id);
  const projectId = str(obj(token.tenant).id);
  const catalog = arr(access.serviceCatalog).map((s) => {
    const o = obj(s);
    const endpoints: CatalogEndpoint[] = [];
    for (const e of arr(o.endpoints).map(obj)) {
      const region = str(e.region);
      for (const [iface, key] of [
        ['public', 'publicURL'],
        ['internal', 'internalURL'],
        ['admin', 'adminURL'],
      ] as const) {
        const url = str(e[key]);
        if (url) endpoints.push({ interface: iface, url, ...(region ? { region } : {}) });
      }
    }
    return { type: str(o.type) ?? '', name: str(o.name) ?? '', endpoints };
  });
  return {
    id,
    catalog,
    ...(expires && !Number.isNaN(Date.parse(expires)) ? { expiresAt: Date.parse(expires) } : {}),
    ...(userId ? { userId } : {}),
    ...(projectId ? { projectId } : {}),
  };
}

/** Signs in with the item's flow. `auth_token` items never call this (the session uses the token as is). */
export async function authenticate(http: HttpTransport, a: OstAuth): Promise<KeystoneToken> {
  switch (a.authVersion) {
    case '3.x_password':
      return v3Password(http, a);
    case '3.x_appcred':
      return v3AppCred(http, a);
    case '3.x_oidc_access_token':
      return v3Oidc(http, a);
    case '2.0_password':
      return v2Password(http, a);
    case '2.0_voms':
      throw new OpenStackAuthError('auth_version 2.0_voms (VOMS proxy sign-in) is not supported by this server');
  }
}
