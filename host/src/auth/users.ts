import { createHash, randomBytes } from 'node:crypto';
import { UserError, type Role } from 'kassenwart/sdk';
import type { StateDb } from '../state/db.js';
import { hashPassword, passwordProblem, verifyPassword } from './passwords.js';

export interface User {
  name: string;
  role: Role;
}

export interface Session {
  user: User;
  csrf: string;
  expiresAt: string;
}

const SESSION_HOURS = Number(process.env.KASSENWART_SESSION_HOURS ?? 8);
const NAME = /^[a-zA-Z0-9._-]{2,40}$/;

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Role order: technician can do all an operator can. */
export function allows(have: Role, need: Role): boolean {
  return have === 'technician' || need === 'operator';
}

/**
 * Users (scrypt hashes), sessions (only a hash of the session id is stored) and the audit log, in the state DB.
 */
export class Users {
  constructor(private readonly db: StateDb) {}

  async list(): Promise<(User & { createdAt: string })[]> {
    return (await this.db.all<{ name: string; role: Role; created_at: string }>('SELECT name, role, created_at FROM users ORDER BY name'))
      .map((r) => ({ name: r.name, role: r.role, createdAt: r.created_at }));
  }

  async hasTechnician(): Promise<boolean> {
    return !!(await this.db.get("SELECT name FROM users WHERE role = 'technician' LIMIT 1"));
  }

  async add(name: string, role: Role, password: string, by: string): Promise<void> {
    if (!NAME.test(name)) {
      throw new UserError('Der Benutzername darf 2 bis 40 Zeichen haben: Buchstaben, Ziffern, Punkt, Minus, Unterstrich.', { code: 'user.name' });
    }
    if (role !== 'operator' && role !== 'technician') throw new UserError('Rolle muss „operator“ oder „technician“ sein.', { code: 'user.role' });
    const problem = passwordProblem(password);
    if (problem) throw new UserError(problem, { code: 'user.password' });
    if (await this.db.get('SELECT name FROM users WHERE name = ?', [name])) {
      throw new UserError(`Den Benutzer „${name}“ gibt es schon.`, { code: 'user.exists', status: 409, hint: 'Mit „users passwd“ das Passwort ändern.' });
    }
    const hash = await hashPassword(password);
    await this.db.write((tx) => {
      tx.run('INSERT INTO users (name, role, hash, created_at) VALUES (?, ?, ?, ?)', [name, role, hash, new Date().toISOString()]);
      audit(tx, by, 'user.add', name, { role });
    });
  }

  async setPassword(name: string, password: string, by: string): Promise<void> {
    const problem = passwordProblem(password);
    if (problem) throw new UserError(problem, { code: 'user.password' });
    if (!(await this.db.get('SELECT name FROM users WHERE name = ?', [name]))) {
      throw new UserError(`Den Benutzer „${name}“ gibt es nicht.`, { code: 'user.unknown', status: 404 });
    }
    const hash = await hashPassword(password);
    await this.db.write((tx) => {
      tx.run('UPDATE users SET hash = ? WHERE name = ?', [hash, name]);
      tx.run('DELETE FROM sessions WHERE user = ?', [name]);
      audit(tx, by, 'user.passwd', name, {});
    });
  }

  async remove(name: string, by: string): Promise<void> {
    await this.db.write((tx) => {
      tx.run('DELETE FROM users WHERE name = ?', [name]);
      tx.run('DELETE FROM sessions WHERE user = ?', [name]);
      audit(tx, by, 'user.remove', name, {});
    });
  }

  /** Checks credentials; the same work is done for unknown users so timing reveals nothing. */
  async verify(name: string, password: string): Promise<User | undefined> {
    const row = await this.db.get<{ name: string; role: Role; hash: string }>('SELECT name, role, hash FROM users WHERE name = ?', [name]);
    const ok = await verifyPassword(password, row?.hash ?? DUMMY_HASH);
    return row && ok ? { name: row.name, role: row.role } : undefined;
  }

  async createSession(user: User): Promise<{ id: string; csrf: string; expiresAt: string }> {
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    const now = new Date();
    const expiresAt = new Date(now.getTime() + SESSION_HOURS * 3600_000).toISOString();
    await this.db.write((tx) => {
      tx.run('DELETE FROM sessions WHERE expires_at < ?', [now.toISOString()]);
      tx.run('INSERT INTO sessions (id_hash, user, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
        [sha(id), user.name, csrf, now.toISOString(), expiresAt]);
    });
    return { id, csrf, expiresAt };
  }

  async session(id: string | undefined): Promise<Session | undefined> {
    if (!id) return undefined;
    const r = await this.db.get<{ user: string; csrf: string; expires_at: string; role: Role }>(
      'SELECT s.user, s.csrf, s.expires_at, u.role FROM sessions s JOIN users u ON u.name = s.user WHERE s.id_hash = ?', [sha(id)]);
    if (!r || Date.parse(r.expires_at) < Date.now()) return undefined;
    return { user: { name: r.user, role: r.role }, csrf: r.csrf, expiresAt: r.expires_at };
  }

  async endSession(id: string): Promise<void> {
    await this.db.write((tx) => tx.run('DELETE FROM sessions WHERE id_hash = ?', [sha(id)]));
  }
}

const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

/** Adds an audit entry inside a transaction. Never pass secret values in `details`. */
export function audit(tx: { run(q: string, p?: (string | number | null)[]): void }, user: string, event: string,
  target: string | null, details: Record<string, unknown>): void {
  tx.run('INSERT INTO audit (at, user, event, target, details) VALUES (?, ?, ?, ?, ?)',
    [new Date().toISOString(), user, event, target, JSON.stringify(details)]);
}

/** The audit log. */
export class AuditLog {
  constructor(private readonly db: StateDb) {}

  async add(user: string, event: string, target: string | null, details: Record<string, unknown> = {}): Promise<void> {
    await this.db.write((tx) => audit(tx, user, event, target, details));
  }

  async list(limit = 200): Promise<{ at: string; user: string; event: string; target: string | null; details: unknown }[]> {
    return (await this.db.all<{ at: string; user: string; event: string; target: string | null; details: string }>(
      'SELECT at, user, event, target, details FROM audit ORDER BY id DESC LIMIT ?', [limit]))
      .map((r) => ({ ...r, details: r.details ? JSON.parse(r.details) : {} }));
  }
}
