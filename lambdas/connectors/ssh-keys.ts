/**
 * Provider-neutral SSH public keys from RADL credentials (`disk.0.os.credentials.public_key` /
 * `private_key`): OpenSSH and PEM public keys normalised to the OpenSSH one-line form, and the public key
 * of a PEM private key (RSA, Ed25519, ECDSA P-256/384/521), with node:crypto only.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

function mpint(b64url: string): Buffer {
  let b = Buffer.from(b64url, 'base64url');
  while (b.length > 1 && b[0] === 0 && (b[1] & 0x80) === 0) b = b.subarray(1);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
}

/** OpenSSH public key of a JWK public key (RSA, Ed25519, ECDSA P-256/384/521). */
function jwkToOpenSsh(jwk: JsonWebKey): string | undefined {
  if (jwk.kty === 'RSA' && jwk.n && jwk.e) {
    return `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), mpint(jwk.e), mpint(jwk.n)]).toString('base64')}`;
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.x) {
    return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.from(jwk.x, 'base64url'))]).toString('base64')}`;
  }
  if (jwk.kty === 'EC' && jwk.x && jwk.y) {
    const curve = { 'P-256': 'nistp256', 'P-384': 'nistp384', 'P-521': 'nistp521' }[jwk.crv ?? ''];
    if (!curve) return undefined;
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
    const type = `ecdsa-sha2-${curve}`;
    return `${type} ${Buffer.concat([sshString(type), sshString(curve), sshString(point)]).toString('base64')}`;
  }
  return undefined;
}

/** The OpenSSH public key of a PEM private key; undefined when it cannot be read. */
export function publicKeyFromPrivate(privatePem: string): string | undefined {
  try {
    return jwkToOpenSsh(createPublicKey(createPrivateKey(privatePem)).export({ format: 'jwk' }));
  } catch {
    return undefined;
  }
}

/** An OpenSSH public key line (`ssh-rsa AAAA… [comment]`) or a PEM public key → OpenSSH form; else undefined. */
export function normalisePublicKey(value: string): string | undefined {
  const v = value.trim();
  if (/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+)\s+[A-Za-z0-9+/=]+/.test(v)) return v.split(/\s+/).slice(0, 2).join(' ');
  if (v.includes('-----BEGIN')) {
    try {
      return jwkToOpenSsh(createPublicKey(v).export({ format: 'jwk' }));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
