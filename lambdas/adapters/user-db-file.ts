/**
 * The UserDb port on IM's USER_DB file (`{"users": [{"username", "password"}, …]}`): read once and
 * again when its modification time changes (checked at most once a second). A missing, unreadable
 * or malformed file gives undefined: everybody is refused, as IM.
 */
import { readFile, stat } from 'node:fs/promises';
import type { UserDb, UserDbUser } from '#core/auth-ports';

const RECHECK_MS = 1000;

interface Loaded {
  path: string;
  checkedAt: number;
  mtimeMs: number;
  users: UserDbUser[] | undefined;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export class UserDbFile implements UserDb {
  private loaded?: Loaded;

  constructor(private readonly now: () => number = Date.now) {}

  async users(path: string): Promise<UserDbUser[] | undefined> {
    const now = this.now();
    const cur = this.loaded;
    if (cur && cur.path === path && now - cur.checkedAt < RECHECK_MS) return cur.users;
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(path)).mtimeMs;
    } catch {
      this.loaded = { path, checkedAt: now, mtimeMs: -1, users: undefined };
      return undefined;
    }
    if (cur && cur.path === path && cur.mtimeMs === mtimeMs) {
      cur.checkedAt = now;
      return cur.users;
    }
    let users: UserDbUser[] | undefined;
    try {
      const data: unknown = JSON.parse(await readFile(path, 'utf8'));
      const list = isMap(data) ? data.users : undefined;
      if (Array.isArray(list)) users = list.filter(isMap).map((u) => ({ username: String(u.username ?? ''), password: String(u.password ?? '') }));
    } catch {
      users = undefined;
    }
    this.loaded = { path, checkedAt: now, mtimeMs, users };
    return users;
  }
}
