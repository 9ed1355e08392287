/**
 * The fake OpenStack's HTTP side (openstack.md §8.1): one loopback listener, Keystone at the root, Nova under
 * /compute/v2.1, Neutron under /network, Glance under /image, Cinder under /volume/v3/<project>, and a control
 * API under /_fake (reset, config, state, log). Faults and latency are applied before routing; every request is
 * logged (method, path, query, body, headers).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_KNOBS, FakeState, type J, type Knobs } from './state.ts';
import { novaError, type Ctx, type Reply, type Route } from './routes.ts';

export { novaError, neutronError, route, type Ctx, type Reply, type Route } from './routes.ts';
import { keystoneRoutes } from './keystone.ts';
import { novaRoutes } from './nova.ts';
import { neutronRoutes } from './neutron.ts';
import { storageRoutes } from './storage.ts';

export interface LogEntry {
  method: string;
  path: string;
  query: string;
  body: unknown;
  headers: Record<string, string>;
  status: number;
}

export class FakeOpenStack {
  readonly state = new FakeState();
  readonly log: LogEntry[] = [];
  private server?: http.Server;
  url = '';
  private readonly routes: Route[] = [...keystoneRoutes, ...novaRoutes, ...neutronRoutes, ...storageRoutes];

  static async start(knobs: Partial<Knobs> = {}): Promise<FakeOpenStack> {
    const f = new FakeOpenStack();
    f.configure(knobs);
    await f.listen();
    return f;
  }

  private listen(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    return new Promise((resolve) => {
      this.server?.listen(0, '127.0.0.1', () => {
        this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    this.state.clearTimers();
    await new Promise<void>((r) => {
      this.server?.closeAllConnections?.();
      this.server?.close(() => r());
    });
  }

  configure(knobs: Partial<Knobs> & { revoke_tokens?: boolean }): void {
    const { revoke_tokens: revoke, ...rest } = knobs;
    Object.assign(this.state.knobs, structuredClone(rest));
    // Every token issued so far becomes invalid: the next service call gets a 401.
    if (revoke) this.state.tokens.clear();
    if (rest.external_subnet_private) {
      // devstack: the external network's subnet is in a private range and visible to the project.
      for (const n of this.state.networks.values()) {
        if (n['router:external'] !== true) continue;
        for (const id of n.subnets as string[]) {
          const sn = this.state.subnets.get(id);
          if (sn) Object.assign(sn, { cidr: '172.24.4.0/24', gateway_ip: '172.24.4.1' });
        }
      }
    }
  }

  reset(): void {
    this.state.clearTimers();
    const fresh = new FakeState();
    Object.assign(this.state, fresh);
    this.state.knobs = structuredClone(DEFAULT_KNOBS);
    this.log.length = 0;
  }

  /** Requests whose path matches, optionally by method. */
  calls(re?: RegExp, method?: string): LogEntry[] {
    return this.log.filter((e) => (!re || re.test(e.path)) && (!method || e.method === method));
  }

  /** API calls (everything but the control API). */
  apiCalls(): LogEntry[] {
    return this.log.filter((e) => !e.path.startsWith('/_fake'));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const path = u.pathname;
    let body: J = {};
    let bodyError = false;
    if (raw) {
      try {
        const p: unknown = JSON.parse(raw);
        body = p && typeof p === 'object' ? (p as J) : {};
      } catch {
        bodyError = true;
      }
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const entry: LogEntry = { method, path, query: u.search, body: raw ? (bodyError ? raw : body) : undefined, headers, status: 0 };
    if (!path.startsWith('/_fake')) this.log.push(entry);
    const send = (r: Reply) => {
      entry.status = r.status;
      const text = r.body === undefined ? '' : JSON.stringify(r.body);
      res.writeHead(r.status, { ...(text ? { 'Content-Type': 'application/json' } : {}), ...(r.headers ?? {}) });
      res.end(text);
    };
    if (path.startsWith('/_fake')) return send(this.control(method, path, body));
    const lat = this.latency(path);
    if (lat > 0) await new Promise((r) => setTimeout(r, lat));
    const fault = this.fault(method, path);
    if (fault) return send(fault);
    if (bodyError) return send(novaError(400, 'badRequest', 'Malformed request body'));
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.re.exec(path);
      if (!m) continue;
      const ctx: Ctx = { method, path, params: m.slice(1), query: u.searchParams, body, headers: req.headers, microversion: microversion(req.headers), baseUrl: this.url };
      if (r.auth) {
        const tokenId = headers['x-auth-token'];
        const t = tokenId ? this.state.tokens.get(tokenId) : undefined;
        if (!t || t.expiresAt < Date.now() || !t.projectId) {
          return send({ status: 401, body: { error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } } });
        }
        ctx.token = t;
      }
      try {
        return send(r.handler(this.state, ctx));
      } catch (err) {
        return send(novaError(500, 'computeFault', `fake error: ${(err as Error).message}`));
      }
    }
    send({ status: 404, body: { itemNotFound: { code: 404, message: `No route for ${method} ${path}` } } });
  }

  private latency(path: string): number {
    const l = this.state.knobs.latency_ms;
    if (typeof l === 'number') return l;
    for (const [re, ms] of Object.entries(l)) if (new RegExp(re).test(path)) return ms;
    return 0;
  }

  private fault(method: string, path: string): Reply | undefined {
    for (const f of this.state.knobs.fail) {
      if (f.method && f.method !== method) continue;
      if (!new RegExp(f.path).test(path)) continue;
      f.seen = (f.seen ?? 0) + 1;
      const hit = f.nth !== undefined ? f.seen === f.nth : f.every !== undefined ? f.seen % f.every === 0 : true;
      if (hit) return { status: f.status, body: f.body ?? { computeFault: { code: f.status, message: 'Injected failure' } } };
    }
    return undefined;
  }

  private control(method: string, path: string, body: J): Reply {
    if (path === '/_fake/reset' && method === 'POST') {
      this.reset();
      return { status: 204 };
    }
    if (path === '/_fake/config' && method === 'POST') {
      this.configure(body as Partial<Knobs>);
      return { status: 200, body: this.state.knobs };
    }
    if (path === '/_fake/state') return { status: 200, body: { leftovers: this.state.leftovers(), servers: [...this.state.servers.values()] } };
    if (path === '/_fake/log') return { status: 200, body: this.log };
    return { status: 404 };
  }
}

function microversion(h: http.IncomingHttpHeaders): number {
  const v = h['openstack-api-version'];
  const m = typeof v === 'string' ? /compute\s+(\d+)\.(\d+)/.exec(v) : null;
  if (m) return Number(m[1]) + Number(m[2]) / 1000;
  const legacy = h['x-openstack-nova-api-version'];
  const l = typeof legacy === 'string' ? /(\d+)\.(\d+)/.exec(legacy) : null;
  return l ? Number(l[1]) + Number(l[2]) / 1000 : 2.001;
}
