import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRole, type Role } from '../resources/access.js';

/**
 * Local console users: what the Cognito user pool (groups = roles) is on AWS. Kept in
 * `<dataDir>/users.json` with scrypt password hashes; `npm run cdp -- users add` writes it and the
 * running CDP reads it on every sign-in, so new users work at once.
 */
interface StoredUser {
  readonly username: string;
  readonly roles: readonly Role[];
  readonly salt: string;
  readonly hash: string;
}

export interface ConsoleUser {
  readonly username: string;
  readonly roles: readonly Role[];
}

const usersFile = (dataDir: string) => join(dataDir, 'users.json');

function load(dataDir: string): StoredUser[] {
  const file = usersFile(dataDir);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StoredUser[]) : [];
}

function save(dataDir: string, users: readonly StoredUser[]): void {
  writeFileSync(usersFile(dataDir), `${JSON.stringify(users, null, 2)}\n`, { mode: 0o600 });
}

const hashOf = (password: string, salt: string) => scryptSync(password, salt, 32).toString('base64url');

export const generatePassword = () => randomBytes(12).toString('base64url');

export function validateUser(username: string, roles: readonly string[], password: string): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9._@-]{1,64}$/i.test(username))
    problems.push('username must be 1-64 letters, digits or . _ @ -');
  if (roles.length === 0) problems.push('at least one --role is required');
  for (const r of roles)
    if (!isRole(r)) problems.push(`role ${r} is not one of admin, marketer, analyst, privacy`);
  if (password.length < 12) problems.push('password must be at least 12 characters');
  return problems;
}

/** Adds or replaces a user. Throws with the broken rules when the input is invalid. */
export function putUser(
  dataDir: string,
  username: string,
  roles: readonly string[],
  password: string,
): ConsoleUser {
  const problems = validateUser(username, roles, password);
  if (problems.length) throw new Error(problems.join('; '));
  const salt = randomBytes(16).toString('base64url');
  const user: StoredUser = { username, roles: roles.filter(isRole), salt, hash: hashOf(password, salt) };
  save(dataDir, [...load(dataDir).filter((u) => u.username !== username), user]);
  return { username, roles: user.roles };
}

export function removeUser(dataDir: string, username: string): boolean {
  const users = load(dataDir);
  const left = users.filter((u) => u.username !== username);
  save(dataDir, left);
  return left.length < users.length;
}

export function listUsers(dataDir: string): ConsoleUser[] {
  return load(dataDir).map(({ username, roles }) => ({ username, roles }));
}

/** The user when the password matches (constant-time compare), else undefined. */
export function verifyUser(dataDir: string, username: string, password: string): ConsoleUser | undefined {
  const user = load(dataDir).find((u) => u.username === username);
  // Hash even for unknown users so timing does not tell which usernames exist.
  const expected = Buffer.from(user?.hash ?? hashOf('x', 'unknown-user-salt'));
  const actual = Buffer.from(hashOf(password, user?.salt ?? 'unknown-user-salt'));
  if (!user || expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  return { username: user.username, roles: user.roles };
}

/**
 * The first admin of a fresh data directory, created with a random password that the banner prints
 * (kept in `console-admin.json`, mode 600, like the admin key in keys.json).
 */
export function ensureFirstAdmin(dataDir: string): { username: string; password: string } {
  const file = join(dataDir, 'console-admin.json');
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { username: string; password: string };
    if (listUsers(dataDir).some((u) => u.username === saved.username)) return saved;
  }
  const first = { username: 'admin', password: generatePassword() };
  putUser(dataDir, first.username, ['admin'], first.password);
  writeFileSync(file, JSON.stringify(first, null, 2), { mode: 0o600 });
  return first;
}
