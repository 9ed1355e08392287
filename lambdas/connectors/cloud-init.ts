/**
 * Provider-neutral cloud-init user data: the SSH user a connector creates on a new VM, and the
 * `cloud_init` configures that the RADL `contextualize` block assigns to a system (lifecycle.md §3),
 * appended as MIME multipart parts.
 */
import type { Radl } from '#radl/index';

const USERNAME_RE = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/** Whether a username can be created by cloud-init. */
export function isValidUsername(u: string): boolean {
  return USERNAME_RE.test(u);
}

/** cloud-init user data: creates `username` with sudo and the public key, plus the system's `cloud_init` recipes. */
export function cloudInitUserData(username: string, publicKey: string | undefined, recipes: string[] = []): string {
  const lines = ['#cloud-config', 'users:', '  - default', `  - name: ${username}`, '    sudo: "ALL=(ALL) NOPASSWD:ALL"', '    shell: /bin/bash', '    lock_passwd: true'];
  if (publicKey) lines.push('    ssh_authorized_keys:', `      - ${JSON.stringify(publicKey)}`);
  const base = lines.join('\n') + '\n';
  if (recipes.length === 0) return base;
  const boundary = '==IM-EC2-BOUNDARY==';
  const part = (text: string) => {
    const t = text.replace(/^\s*\n/, '');
    const type = t.startsWith('#!') ? 'text/x-shellscript' : t.startsWith('#include') ? 'text/x-include-url' : 'text/cloud-config';
    return `--${boundary}\nContent-Type: ${type}; charset="utf-8"\nMIME-Version: 1.0\n\n${t}\n`;
  };
  return [`Content-Type: multipart/mixed; boundary="${boundary}"\nMIME-Version: 1.0\n\n`, part(base), ...recipes.map(part), `--${boundary}--\n`].join('');
}

/** The `cloud_init` configures that contextualize items assign to this system (lifecycle.md §3). */
export function cloudInitRecipes(radl: Radl, systemName: string): string[] {
  const items = radl.contextualize?.getItemsBySystem(systemName) ?? [];
  const out: string[] = [];
  for (const it of items) {
    if ((it.ctxtTool ?? '').toLowerCase() !== 'cloud_init') continue;
    const recipe = radl.getConfigureByName(it.configureId)?.recipes;
    if (recipe && recipe.trim()) out.push(recipe);
  }
  return out;
}
