/**
 * Ansible Vault (format 1.1 / 1.2, AES256) in Node crypto, for recipes written entirely vault-encrypted
 * (`$ANSIBLE_VAULT;…`) with the system's `vault.password` (lifecycle.md §3): the runner decrypts them to
 * merge the IM play header, as IM does. Inline `!vault` values are left to ansible-playbook
 * (`--vault-password-file`).
 *
 * Format: header line, then hex of "<hex salt>\n<hex hmac>\n<hex ciphertext>". Keys: PBKDF2-SHA256(password,
 * salt, 10000 iterations, 80 bytes) → AES-256 key | HMAC-SHA256 key | CTR IV. Plaintext is PKCS#7 padded.
 */
import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

export function isVaultText(text: string): boolean {
  return text.trimStart().startsWith('$ANSIBLE_VAULT;');
}

function deriveKeys(password: string, salt: Buffer): { key: Buffer; hmacKey: Buffer; iv: Buffer } {
  const d = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, 10000, 80, 'sha256');
  return { key: d.subarray(0, 32), hmacKey: d.subarray(32, 64), iv: d.subarray(64, 80) };
}

/** Decrypts a vault text. Throws Error('Decryption failed …') on a wrong password or a damaged text. */
export function vaultDecrypt(text: string, password: string): string {
  const lines = text.trim().split(/\r?\n/);
  const header = (lines.shift() ?? '').trim().split(';');
  if (header[0] !== '$ANSIBLE_VAULT' || !['1.1', '1.2'].includes(header[1] ?? '') || (header[2] ?? '').trim() !== 'AES256') {
    throw new Error('Unsupported vault format (expected $ANSIBLE_VAULT;1.1|1.2;AES256)');
  }
  const inner = Buffer.from(lines.join('').replace(/\s+/g, ''), 'hex').toString('ascii').split('\n');
  if (inner.length !== 3) throw new Error('Decryption failed (malformed vault data)');
  const [salt, mac, cipher] = inner.map((h) => Buffer.from(h, 'hex'));
  const { key, hmacKey, iv } = deriveKeys(password, salt);
  const expected = createHmac('sha256', hmacKey).update(cipher).digest();
  if (expected.length !== mac.length || !timingSafeEqual(expected, mac)) throw new Error('Decryption failed (wrong vault password?)');
  const d = createDecipheriv('aes-256-ctr', key, iv);
  const padded = Buffer.concat([d.update(cipher), d.final()]);
  const pad = padded[padded.length - 1] ?? 0;
  if (pad < 1 || pad > 16) throw new Error('Decryption failed (bad padding)');
  return padded.subarray(0, padded.length - pad).toString('utf8');
}

/** Encrypts (format 1.1). Used by tests and for symmetry. */
export function vaultEncrypt(plain: string, password: string, salt: Buffer = randomBytes(32)): string {
  const { key, hmacKey, iv } = deriveKeys(password, salt);
  const data = Buffer.from(plain, 'utf8');
  const pad = 16 - (data.length % 16);
  const c = createCipheriv('aes-256-ctr', key, iv);
  const cipher = Buffer.concat([c.update(Buffer.concat([data, Buffer.alloc(pad, pad)])), c.final()]);
  const mac = createHmac('sha256', hmacKey).update(cipher).digest();
  const body = Buffer.from(`${salt.toString('hex')}\n${mac.toString('hex')}\n${cipher.toString('hex')}`, 'ascii').toString('hex');
  const out = ['$ANSIBLE_VAULT;1.1;AES256'];
  for (let i = 0; i < body.length; i += 80) out.push(body.slice(i, i + 80));
  return out.join('\n') + '\n';
}
