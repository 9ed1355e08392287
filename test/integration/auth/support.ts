/**
 * What the sign-in integration tests share: the auth lines the IM dashboard sends, hand-made bad
 * tokens (forged signature, `alg: none`, unknown key), an XML-RPC client (npm `xmlrpc`), the
 * endpoint list of the isolation checks, and a capture of every log line the server writes.
 */
import { request } from 'node:http';
import { generateKeyPair, SignJWT, type JWK } from 'jose';
import xmlrpc from 'xmlrpc';

// ---------------------------------------------------------------------------------------------
// Auth lines
// ---------------------------------------------------------------------------------------------

/** The dashboard's header (app/utils.py getUserAuthData): the IM token line, then its cloud lines. */
export const dashboardAuth = (token: string, clouds: string[] = ['id = one; type = Dummy']) =>
  [`type = InfrastructureManager; token = ${token}`, ...clouds].join('\\n');

/** The dashboard's OpenStack line for an EGI site (the token is the password). */
export const egiOpenStackLine = (token: string, id = 'ost1') =>
  `id = ${id}; type = OpenStack; username = egi.eu; tenant = openid; auth_version = 3.x_oidc_access_token; host = https://keystone.example.org:5000; password = '${token}'; domain = project_name`;

/**
 * A POST with a body and no Content-Type at all, as Python `requests` sends `data=<str>` (the
 * dashboard's change_user); fetch would add `text/plain`.
 */
export function postWithoutContentType(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// Bad tokens
// ---------------------------------------------------------------------------------------------

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
export const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
export const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;

/** The token with a changed payload and its original signature. */
export function forged(jwt: string, change: Record<string, unknown>): string {
  const [h, , s] = jwt.split('.');
  return `${h}.${b64({ ...payloadOf(jwt), ...change })}.${s}`;
}

/** The token's claims, unsigned (`alg: none`). */
export function algNone(jwt: string, change: Record<string, unknown> = {}): string {
  return `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ ...payloadOf(jwt), ...change })}.`;
}

/** The token's claims signed with HS256 using the issuer's public key as the secret (key confusion). */
export async function hmacWithPublicKey(jwt: string, publicJwk: JWK): Promise<string> {
  const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
  return new SignJWT(payloadOf(jwt)).setProtectedHeader({ alg: 'HS256', kid: headerOf(jwt).kid as string }).sign(secret);
}

/** The token's claims signed with a key the issuer never published. */
export async function unknownKey(jwt: string, kid = 'k-never-published'): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  return new SignJWT(payloadOf(jwt)).setProtectedHeader({ alg: 'RS256', kid, typ: 'at+jwt' }).sign(privateKey);
}

// ---------------------------------------------------------------------------------------------
// XML-RPC
// ---------------------------------------------------------------------------------------------

export type Answer = [boolean, unknown];

export class Rpc {
  private readonly client: xmlrpc.Client;
  constructor(url: string) {
    this.client = xmlrpc.createClient({ url });
  }

  call(method: string, params: unknown[] = []): Promise<Answer> {
    return new Promise((resolve, reject) => this.client.methodCall(method, params, (err, value) => (err ? reject(err) : resolve(value as Answer))));
  }
}

// ---------------------------------------------------------------------------------------------
// Endpoints (rest-api.md §5) of one infrastructure, for the isolation checks
// ---------------------------------------------------------------------------------------------

export const INF_ENDPOINTS: [string, string, { body?: string; contentType?: string; query?: Record<string, string> }?][] = [
  ['GET', '/infrastructures/{id}'],
  ['POST', '/infrastructures/{id}', { body: 'system front\ndeploy front 1' }],
  ['DELETE', '/infrastructures/{id}'],
  ['DELETE', '/infrastructures/{id}', { query: { force: 'yes', async: 'yes' } }],
  ['GET', '/infrastructures/{id}/contmsg'],
  ['GET', '/infrastructures/{id}/radl'],
  ['GET', '/infrastructures/{id}/tosca'],
  ['GET', '/infrastructures/{id}/state'],
  ['GET', '/infrastructures/{id}/outputs'],
  ['GET', '/infrastructures/{id}/data'],
  ['GET', '/infrastructures/{id}/data', { query: { delete: 'true' } }],
  ['GET', '/infrastructures/{id}/authorization'],
  ['POST', '/infrastructures/{id}/authorization', { body: '{"username": "mallory", "password": "m"}', contentType: 'application/json' }],
  ['POST', '/infrastructures/{id}/authorization', { body: '{"username": "mallory", "password": "m"}', contentType: 'application/json', query: { overwrite: 'yes' } }],
  ['PUT', '/infrastructures/{id}/reconfigure'],
  ['PUT', '/infrastructures/{id}/stop'],
  ['PUT', '/infrastructures/{id}/start'],
  ['GET', '/infrastructures/{id}/vms/0'],
  ['PUT', '/infrastructures/{id}/vms/0', { body: 'system front ( cpu.count >= 8 )' }],
  ['DELETE', '/infrastructures/{id}/vms/0'],
  ['GET', '/infrastructures/{id}/vms/0/memory.size'],
  ['GET', '/infrastructures/{id}/vms/0/contmsg'],
  ['GET', '/infrastructures/{id}/vms/0/command'],
  ['PUT', '/infrastructures/{id}/vms/0/stop'],
  ['PUT', '/infrastructures/{id}/vms/0/start'],
  ['PUT', '/infrastructures/{id}/vms/0/reboot'],
  ['PUT', '/infrastructures/{id}/vms/0/disks/0/snapshot', { query: { image_name: 'stolen' } }],
];

/** The XML-RPC methods that take an infrastructure id (xmlrpc-api.md), with their other parameters. */
export const INF_METHODS = (infId: string, auth: unknown[]): [string, unknown[]][] => [
  ['GetInfrastructureInfo', [infId, auth]],
  ['GetInfrastructureContMsg', [infId, auth]],
  ['GetInfrastructureState', [infId, auth]],
  ['GetInfrastructureRADL', [infId, auth]],
  ['GetVMInfo', [infId, '0', auth]],
  ['GetVMProperty', [infId, '0', 'memory.size', auth]],
  ['GetVMContMsg', [infId, '0', auth]],
  ['AlterVM', [infId, '0', 'system front ( cpu.count >= 8 )', auth]],
  ['AddResource', [infId, 'system front\ndeploy front 1', auth]],
  ['RemoveResource', [infId, '0', auth]],
  ['StopInfrastructure', [infId, auth]],
  ['StartInfrastructure', [infId, auth]],
  ['StopVM', [infId, '0', auth]],
  ['StartVM', [infId, '0', auth]],
  ['RebootVM', [infId, '0', auth]],
  ['Reconfigure', [infId, '', auth]],
  ['ExportInfrastructure', [infId, false, auth]],
  ['CreateDiskSnapshot', [infId, '0', 0, 'stolen', false, auth]],
  ['ChangeInfrastructureAuth', [infId, [{ type: 'InfrastructureManager', username: 'mallory', password: 'm' }], false, auth]],
  ['GetInfrastructureOwners', [infId, auth]],
  ['DestroyInfrastructure', [infId, auth]],
];

// ---------------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------------

/** Every line written to stdout / stderr from now on (the server logs JSON lines on stdout). */
export function captureOutput(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const tee =
    (orig: typeof out) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      return (orig as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    };
  process.stdout.write = tee(out) as typeof process.stdout.write;
  process.stderr.write = tee(err) as typeof process.stderr.write;
  return {
    lines,
    restore() {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
}

/** The secrets among `secrets` that appear in some line (with the line), for an assertion message. */
export function leaks(lines: string[], secrets: Iterable<string>): string[] {
  const out: string[] = [];
  for (const s of secrets) {
    if (s.length < 8) continue;
    // A JWT's signature part alone is enough to replay nothing, but its payload+signature is the token.
    const probes = s.split('.').length === 3 ? [s, s.split('.')[2]].filter((p) => p.length >= 16) : [s];
    for (const line of lines) if (probes.some((p) => line.includes(p))) out.push(`${s.slice(0, 12)}… in: ${line.slice(0, 200)}`);
  }
  return out;
}
