/** Fake Keystone v3 (password, application_credential, token, OS-FEDERATION) and v2.0 (password) — §8.2. */
import { randomBytes } from 'node:crypto';
import { APP_CREDS, IDP, PROJECTS, USERS, type FakeState, type J, type Token } from './state.ts';
import { route, type Ctx, type Reply, type Route } from './routes.ts';

const unauthorized = (): Reply => ({ status: 401, body: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } } });

function issue(s: FakeState, userId: string, projectId: string | undefined, methods: string[]): Token {
  const t: Token = { id: `gAAAAA${randomBytes(24).toString('hex')}`, userId, expiresAt: Date.now() + s.knobs.token_ttl_s * 1000, methods, ...(projectId ? { projectId } : {}) };
  s.tokens.set(t.id, t);
  return t;
}

function catalog(c: Ctx, s: FakeState, projectId: string, v2: boolean): J[] {
  const services: [string, string, string][] = [
    ['compute', 'nova', '/compute/v2.1'],
    ['network', 'neutron', '/network'],
    ['image', 'glance', '/image'],
    ['volumev3', 'cinderv3', `/volume/v3/${projectId}`],
    ['identity', 'keystone', '/v3'],
  ];
  return services.map(([type, name, path]) => {
    const regions = s.knobs.regions;
    if (v2) {
      return { type, name, endpoints: regions.map((region) => ({ region, publicURL: c.baseUrl + path, internalURL: `${c.baseUrl}/internal${path}`, adminURL: `${c.baseUrl}/admin${path}` })) };
    }
    const endpoints: J[] = [];
    for (const region of regions) {
      endpoints.push({ id: `${type}-${region}-public`, region, region_id: region, interface: 'public', url: c.baseUrl + path });
      endpoints.push({ id: `${type}-${region}-internal`, region, region_id: region, interface: 'internal', url: `${c.baseUrl}/internal${path}` });
      endpoints.push({ id: `${type}-${region}-admin`, region, region_id: region, interface: 'admin', url: `${c.baseUrl}/admin${path}` });
    }
    return { id: `svc-${type}`, type, name, endpoints };
  });
}

function v3TokenReply(c: Ctx, s: FakeState, t: Token): Reply {
  const user = USERS.find((u) => u.id === t.userId);
  const project = PROJECTS.find((p) => p.id === t.projectId);
  const token: J = {
    methods: t.methods,
    expires_at: new Date(t.expiresAt).toISOString(),
    issued_at: new Date().toISOString(),
    user: { id: t.userId, name: user?.name, domain: { id: 'default', name: 'Default' } },
    audit_ids: [randomBytes(8).toString('hex')],
  };
  if (project) {
    token.project = { id: project.id, name: project.name, domain: { id: 'default', name: 'Default' } };
    token.catalog = catalog(c, s, project.id, false);
    token.roles = [{ id: 'r1', name: 'member' }];
  }
  return { status: 201, headers: { 'X-Subject-Token': t.id }, body: { token } };
}

function postTokens(s: FakeState, c: Ctx): Reply {
  const identity = ((c.body.auth as J | undefined)?.identity ?? {}) as J;
  const scope = ((c.body.auth as J | undefined)?.scope ?? undefined) as J | undefined;
  const methods = (identity.methods as string[] | undefined) ?? [];
  const scopedProject = (userProjects: string[]): string | undefined | null => {
    const p = scope?.project as J | undefined;
    if (!p) return undefined;
    const proj = PROJECTS.find((x) => (p.id && x.id === p.id) || (p.name && x.name === p.name && ((p.domain as J | undefined)?.id ?? 'default') === x.domain_id));
    return proj && userProjects.includes(proj.id) ? proj.id : null;
  };
  if (methods[0] === 'password') {
    const u = ((identity.password as J | undefined)?.user ?? {}) as J;
    const user = USERS.find((x) => x.name === u.name && x.password && x.password === u.password && ((u.domain as J | undefined)?.name ?? 'Default') === x.domain);
    if (!user) return unauthorized();
    const pid = scopedProject(user.projects);
    if (pid === null) return unauthorized();
    return v3TokenReply(c, s, issue(s, user.id, pid, ['password']));
  }
  if (methods[0] === 'application_credential') {
    const a = (identity.application_credential ?? {}) as J;
    const cred = APP_CREDS.find((x) => x.id === a.id && x.secret === a.secret);
    if (!cred) return unauthorized();
    return v3TokenReply(c, s, issue(s, cred.userId, cred.projectId, ['application_credential']));
  }
  if (methods[0] === 'token') {
    const id = (identity.token as J | undefined)?.id as string | undefined;
    const base = id ? s.tokens.get(id) : undefined;
    if (!base || base.expiresAt < Date.now()) return unauthorized();
    const user = USERS.find((x) => x.id === base.userId);
    const pid = scopedProject(user?.projects ?? []);
    if (!pid) return unauthorized();
    return v3TokenReply(c, s, issue(s, base.userId, pid, ['token', ...base.methods.filter((m) => m !== 'token')]));
  }
  return { status: 400, body: { error: { code: 400, title: 'Bad Request', message: 'Expecting to find identity in auth.' } } };
}

function federatedAuth(s: FakeState, c: Ctx): Reply {
  if (c.params[0] !== IDP.idp || c.params[1] !== IDP.protocol) return { status: 404, body: { error: { code: 404, title: 'Not Found', message: 'Could not find Identity Provider' } } };
  const auth = String(c.headers.authorization ?? '');
  const m = /^Bearer (.+)$/.exec(auth);
  if (!m || !s.knobs.oidc_tokens.includes(m[1])) return unauthorized();
  const fed = USERS[1];
  const t = issue(s, fed.id, undefined, ['openid']);
  return { status: 201, headers: { 'X-Subject-Token': t.id }, body: { token: { methods: ['openid'], user: { id: fed.id, name: fed.name, 'OS-FEDERATION': { identity_provider: { id: IDP.idp }, protocol: { id: IDP.protocol } } }, expires_at: new Date(t.expiresAt).toISOString() } } };
}

function anyToken(s: FakeState, c: Ctx): Token | undefined {
  const id = c.headers['x-auth-token'];
  const t = typeof id === 'string' ? s.tokens.get(id) : undefined;
  return t && t.expiresAt >= Date.now() ? t : undefined;
}

function projectsOf(s: FakeState, c: Ctx): Reply {
  const t = anyToken(s, c);
  if (!t) return unauthorized();
  const user = USERS.find((u) => u.id === t.userId);
  return { status: 200, body: { projects: PROJECTS.filter((p) => user?.projects.includes(p.id)), links: { self: null, next: null, previous: null } } };
}

function v2Tokens(s: FakeState, c: Ctx): Reply {
  const a = (c.body.auth ?? {}) as J;
  const pc = (a.passwordCredentials ?? {}) as J;
  const user = USERS.find((u) => u.name === pc.username && u.password && u.password === pc.password);
  const project = PROJECTS.find((p) => p.name === a.tenantName || p.id === a.tenantId);
  if (!user || !project || !user.projects.includes(project.id)) return unauthorized();
  const t = issue(s, user.id, project.id, ['password']);
  return {
    status: 200,
    body: {
      access: {
        token: { id: t.id, expires: new Date(t.expiresAt).toISOString(), issued_at: new Date().toISOString(), tenant: { id: project.id, name: project.name, enabled: true } },
        serviceCatalog: catalog(c, s, project.id, true),
        user: { id: user.id, name: user.name, roles: [{ name: 'member' }] },
      },
    },
  };
}

export const keystoneRoutes: Route[] = [
  route('POST', '/v3/auth/tokens', postTokens, false),
  route('GET', '/v3/OS-FEDERATION/identity_providers/([^/]+)/protocols/([^/]+)/auth', federatedAuth, false),
  route('GET', '/v3/auth/projects', projectsOf, false),
  route('GET', '/v3/OS-FEDERATION/projects', projectsOf, false),
  route('GET', '/v3/users/([^/]+)', (s, c) => {
    const t = anyToken(s, c);
    const u = USERS.find((x) => x.id === c.params[0]);
    if (!t) return unauthorized();
    return u ? { status: 200, body: { user: { id: u.id, name: u.name, domain_id: 'default', enabled: true } } } : { status: 404, body: { error: { code: 404, message: 'Could not find user' } } };
  }, false),
  route('GET', '/v3/users/([^/]+)/projects', (s, c) => {
    const u = USERS.find((x) => x.id === c.params[0]);
    if (!anyToken(s, c)) return unauthorized();
    return { status: 200, body: { projects: PROJECTS.filter((p) => u?.projects.includes(p.id)) } };
  }, false),
  route('POST', '/v2.0/tokens', v2Tokens, false),
];
