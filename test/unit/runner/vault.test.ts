import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isVaultText, vaultDecrypt, vaultEncrypt } from '#runner/vault';

const hasAnsibleVault = spawnSync('sh', ['-c', 'command -v ansible-vault']).status === 0;

describe('Ansible Vault', () => {
  it('round-trips and rejects a wrong password', () => {
    const enc = vaultEncrypt('- tasks: []\n', 'pw');
    expect(isVaultText(enc)).toBe(true);
    expect(enc.split('\n')[0]).toBe('$ANSIBLE_VAULT;1.1;AES256');
    expect(vaultDecrypt(enc, 'pw')).toBe('- tasks: []\n');
    expect(() => vaultDecrypt(enc, 'other')).toThrow(/Decryption failed/);
    expect(() => vaultDecrypt('$ANSIBLE_VAULT;9.9;XXX\n00', 'pw')).toThrow(/Unsupported vault format/);
  });

  it.skipIf(!hasAnsibleVault)('reads what ansible-vault writes and ansible-vault reads what it writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imt-vault-'));
    try {
      writeFileSync(join(dir, 'pw'), 'S3cret!');
      writeFileSync(join(dir, 'a.yml'), '- tasks:\n  - debug: msg=ünïcode\n');
      expect(spawnSync('ansible-vault', ['encrypt', '--vault-password-file', join(dir, 'pw'), join(dir, 'a.yml')]).status).toBe(0);
      expect(vaultDecrypt(readFileSync(join(dir, 'a.yml'), 'utf8'), 'S3cret!')).toBe('- tasks:\n  - debug: msg=ünïcode\n');
      writeFileSync(join(dir, 'b.yml'), vaultEncrypt('x: 1\n', 'S3cret!'));
      const r = spawnSync('ansible-vault', ['view', '--vault-password-file', join(dir, 'pw'), join(dir, 'b.yml')], { encoding: 'utf8' });
      expect(r.stdout).toBe('x: 1\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
