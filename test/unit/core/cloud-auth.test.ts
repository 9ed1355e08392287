/** The sealed cloud auth with the caller's token (core/cloud-auth.ts). */
import { describe, expect, it } from 'vitest';
import { createSecretBox, generateSecretKey } from '#core/secrets';
import { currentCloudAuth, openAccessToken, openCloudAuth, sealCloudAuth } from '#core/cloud-auth';
import type { AuthItem } from '#core/types';

const services = { secrets: createSecretBox(generateSecretKey()) };
const im = (token: string): AuthItem => ({ type: 'InfrastructureManager', id: 'im', token });
const ost = (password: string): AuthItem => ({ id: 'ost', type: 'OpenStack', auth_version: '3.x_oidc_access_token', password });

describe('sealed cloud auth', () => {
  it('seals the cloud items and the token, never the IM or Vault items in clear', () => {
    const sealed = sealCloudAuth(services, [im('tok-1'), ost('tok-1'), { type: 'Vault', id: 'v', token: 'tok-1', host: 'h' }]);
    expect(sealed).not.toContain('tok-1');
    expect(openCloudAuth(services, { cloudAuth: sealed })).toEqual([ost('tok-1')]);
    expect(openAccessToken(services, { cloudAuth: sealed })).toBe('tok-1');
  });

  it('records sealed before (a JSON array) still read', () => {
    const old = services.secrets.seal(JSON.stringify([{ id: 'd', type: 'Dummy' }]));
    expect(openCloudAuth(services, { cloudAuth: old })).toEqual([{ id: 'd', type: 'Dummy' }]);
    expect(openAccessToken(services, { cloudAuth: old })).toBeUndefined();
  });

  it("a later token replaces the stored one, also in the OpenStack OIDC item it was the password of", () => {
    const inf = { cloudAuth: sealCloudAuth(services, [im('old'), ost('old'), { id: 'd', type: 'Dummy' }]) };
    const now = currentCloudAuth(services, inf, [im('new')]);
    expect(now.changed).toBe(true);
    expect(now.token).toBe('new');
    expect(now.items).toEqual([ost('new'), { id: 'd', type: 'Dummy' }]);
    // Same token, no cloud items: nothing to reseal. A password caller keeps the stored token.
    expect(currentCloudAuth(services, inf, [im('old')]).changed).toBe(false);
    const pw = currentCloudAuth(services, inf, [{ type: 'InfrastructureManager', username: 'u', password: 'p' }]);
    expect(pw.changed).toBe(false);
    expect(pw.token).toBe('old');
  });
});
