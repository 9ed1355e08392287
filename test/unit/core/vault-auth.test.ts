/** Vault expansion rules (auth.md §6) with an in-memory CredentialVault. */
import { describe, expect, it } from 'vitest';
import type { CredentialVault } from '#core/auth-ports';
import { expandVaultItems, translateVaultItem } from '#core/vault-auth';
import { errors } from '#core/errors';

const T = 'the.token.value';

describe('translateVaultItem', () => {
  it('fedcloud → OpenStack on EGI federation (project_id → domain, vo dropped, token as password)', () => {
    expect(translateVaultItem(JSON.stringify({ id: 'f', type: 'fedcloud', host: 'https://k:5000', project_id: 'p', vo: 'v' }), T)).toEqual({
      id: 'f',
      type: 'OpenStack',
      host: 'https://k:5000',
      username: 'egi.eu',
      tenant: 'openid',
      auth_version: '3.x_oidc_access_token',
      password: T,
      domain: 'p',
    });
  });

  it('EGI gets the token; OpenStack OIDC gets it as password; other OpenStack items are kept', () => {
    expect(translateVaultItem({ id: 'e', type: 'EGI', host: 'CESGA', vo: 'v' }, T)).toEqual({ id: 'e', type: 'EGI', host: 'CESGA', vo: 'v', token: T });
    expect(translateVaultItem({ type: 'OpenStack', auth_version: '3.x_oidc_access_token', password: 'old' }, T)?.password).toBe(T);
    expect(translateVaultItem({ type: 'OpenStack', auth_version: '3.x_password', password: 'pw' }, T)?.password).toBe('pw');
  });

  it('disabled (false or "false") skipped; enabled dropped; Vault items, non-objects and bad JSON ignored', () => {
    expect(translateVaultItem({ type: 'Dummy', enabled: false }, T)).toBeUndefined();
    expect(translateVaultItem({ type: 'Dummy', enabled: 'False' }, T)).toBeUndefined();
    expect(translateVaultItem({ type: 'Dummy', enabled: true, port: 5 }, T)).toEqual({ type: 'Dummy', port: '5' });
    expect(translateVaultItem({ type: 'Vault', host: 'h' }, T)).toBeUndefined();
    expect(translateVaultItem('not json', T)).toBeUndefined();
    expect(translateVaultItem('[1,2]', T)).toBeUndefined();
    expect(translateVaultItem({ id: 'x' }, T)).toBeUndefined();
  });
});

describe('expandVaultItems', () => {
  const logs: string[] = [];
  const logger = { debug() {}, info() {}, warn: (m: string) => logs.push(m), error() {} };
  const reads: string[] = [];
  const vault = (secret: Record<string, unknown> | Error): CredentialVault => ({
    login: async (_h, jwt, role) => {
      if (role === 'bad') throw errors.badRequest('Error getting Vault token: 400 - {"errors":["role \\"bad\\" could not be found"]}');
      return { clientToken: `ct-${jwt.length}`, entityId: 'entity-1' };
    },
    readSecret: async (_h, _ct, mount, path) => {
      reads.push(`${mount}|${path}`);
      if (secret instanceof Error) throw secret;
      return secret;
    },
  });

  it('Vault items give way to their secret (first), other items stay; defaults: credentials/ and the entity id', async () => {
    const out = await expandVaultItems({ vault: vault({ a: JSON.stringify({ id: 'a', type: 'Dummy' }) }), logger }, [
      { type: 'InfrastructureManager', token: T },
      { type: 'Vault', host: 'https://v', token: T },
      { id: 'mine', type: 'Dummy' },
    ], new Map());
    expect(out).toEqual([{ id: 'a', type: 'Dummy' }, { type: 'InfrastructureManager', token: T }, { id: 'mine', type: 'Dummy' }]);
    expect(reads.at(-1)).toBe('credentials/|entity-1');
  });

  it('#USER_SUB# is the verified subject of that token', async () => {
    await expandVaultItems({ vault: vault({}), logger }, [{ type: 'Vault', host: 'https://v', token: T, path: 'users/#USER_SUB#', mount_point: 'kv/' }], new Map([[T, 'sub-42']]));
    expect(reads.at(-1)).toBe('kv/|users/sub-42');
  });

  it('a login refusal is the request error; a read failure is logged and gives nothing', async () => {
    await expect(expandVaultItems({ vault: vault({}), logger }, [{ type: 'Vault', host: 'h', token: T, role: 'bad' }], new Map())).rejects.toThrow(
      'Error getting Vault token: 400 - {"errors":["role \\"bad\\" could not be found"]}',
    );
    const out = await expandVaultItems({ vault: vault(new Error('Vault answered 403 reading the secret')), logger }, [{ type: 'Vault', host: 'h', token: T }], new Map());
    expect(out).toEqual([]);
    expect(logs).toContain('Error reading the cloud credentials from Vault');
  });

  it('a Vault item without host or token is dropped', async () => {
    expect(await expandVaultItems({ vault: vault({}), logger }, [{ type: 'Vault', host: 'h' }], new Map())).toEqual([]);
  });
});
