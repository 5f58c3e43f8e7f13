/**
 * Users, sessions, password hashing and the login lock-out, on a real state database (no HTTP): the rules
 * behind the access tests, each with its German message and its boundary. The lock-out's clock is the
 * process clock, moved by replacing Date.now for the duration of one test (the limiter reads nothing else).
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { StateDb } from '#host/state/db.js';
import { Users, AuditLog, allows } from '#host/auth/users.js';
import { hashPassword, verifyPassword, passwordProblem } from '#host/auth/passwords.js';
import { tempDir, removeDir } from '#support/tmp.js';
import { rejection } from '#support/rejection.js';

describe('auth: roles, passwords, users and sessions (real state database)', function () {
  this.timeout(60_000);
  let dir: string;
  let db: StateDb;
  let users: Users;
  let audit: AuditLog;
  const PW = 'Ein-gutes-Passwort';

  beforeEach(async () => {
    dir = await tempDir('kw-auth-units-');
    db = await StateDb.open(join(dir, 'state.sqlite'));
    users = new Users(db);
    audit = new AuditLog(db);
  });
  afterEach(async () => {
    db.close();
    await removeDir(dir);
  });

  it('technicians may do everything, operators only operator things', () => {
    expect(allows('technician', 'technician')).to.equal(true);
    expect(allows('technician', 'operator')).to.equal(true);
    expect(allows('operator', 'operator')).to.equal(true);
    expect(allows('operator', 'technician')).to.equal(false);
  });

  it('hashes passwords with scrypt and a salt; verifies only the right one', async () => {
    const a = await hashPassword(PW);
    const b = await hashPassword(PW);
    expect(a).to.match(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(a).to.not.equal(b);
    expect(await verifyPassword(PW, a)).to.equal(true);
    expect(await verifyPassword(PW + 'x', a)).to.equal(false);
    expect(await verifyPassword(PW, a.replace(/^scrypt/, 'md5'))).to.equal(false);
  });

  it('refuses weak passwords with a German reason, at the 10-character boundary', () => {
    expect(passwordProblem('123456789')).to.equal('Das Passwort muss mindestens 10 Zeichen lang sein.');
    expect(passwordProblem('1234567890')).to.equal(undefined);
    expect(passwordProblem('aaaaaaaaaaaa')).to.equal('Das Passwort darf nicht aus einem einzigen wiederholten Zeichen bestehen.');
    expect(passwordProblem('aaaaaaaaaaab')).to.equal(undefined);
    expect(passwordProblem('baaaaaaaaaaa')).to.equal(undefined);
  });

  it('adds users with checked names, roles and passwords; a name only once', async () => {
    expect(await users.hasTechnician()).to.equal(false);
    await users.add('kasse.1', 'operator', PW, 'setup');
    expect(await users.hasTechnician()).to.equal(false);
    await users.add('chef', 'technician', PW, 'setup');
    expect(await users.hasTechnician()).to.equal(true);
    expect((await users.list()).map((u) => [u.name, u.role])).to.deep.equal([['chef', 'technician'], ['kasse.1', 'operator']]);
    for (const bad of ['a', 'x'.repeat(41), 'mit leerzeichen', 'ä-umlaut']) {
      const e = await rejection(users.add(bad, 'operator', PW, 'setup'));
      expect(e.code, bad).to.equal('user.name');
      expect(e.message).to.equal('Der Benutzername darf 2 bis 40 Zeichen haben: Buchstaben, Ziffern, Punkt, Minus, Unterstrich.');
    }
    await users.add('ab', 'operator', PW, 'setup');
    await users.add('y'.repeat(40), 'operator', PW, 'setup');
    const role = await rejection(users.add('admin', 'admin' as never, PW, 'setup'));
    expect([role.code, role.message]).to.deep.equal(['user.role', 'Rolle muss „operator“ oder „technician“ sein.']);
    const weak = await rejection(users.add('schwach', 'operator', 'kurz', 'setup'));
    expect([weak.code, weak.message]).to.deep.equal(['user.password', 'Das Passwort muss mindestens 10 Zeichen lang sein.']);
    const twice = await rejection(users.add('chef', 'operator', PW, 'setup'));
    expect([twice.code, twice.status, twice.message, twice.hint]).to.deep.equal(['user.exists', 409, 'Den Benutzer „chef“ gibt es schon.', 'Mit „users passwd“ das Passwort ändern.']);
    const events = (await audit.list()).map((a) => [a.user, a.event, a.target, a.details]);
    expect(events).to.deep.include(['setup', 'user.add', 'chef', { role: 'technician' }]);
    expect(JSON.stringify(await audit.list())).to.not.contain(PW);
  });

  it('verifies credentials: right password, wrong password, unknown user', async () => {
    await users.add('chef', 'technician', PW, 'setup');
    expect(await users.verify('chef', PW)).to.deep.equal({ name: 'chef', role: 'technician' });
    expect(await users.verify('chef', 'falsch-falsch')).to.equal(undefined);
    expect(await users.verify('niemand', PW)).to.equal(undefined);
  });

  it('keeps sessions by a hash of their id, with a CSRF token; ends them on logout, password change and removal', async () => {
    await users.add('chef', 'technician', PW, 'setup');
    const s = await users.createSession({ name: 'chef', role: 'technician' });
    expect(s.id).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(s.csrf).to.match(/^[A-Za-z0-9_-]{32}$/);
    expect(Date.parse(s.expiresAt)).to.be.greaterThan(Date.now());
    expect(await users.session(s.id)).to.deep.equal({ user: { name: 'chef', role: 'technician' }, csrf: s.csrf, expiresAt: s.expiresAt });
    expect(await users.session(undefined)).to.equal(undefined);
    expect(await users.session('')).to.equal(undefined);
    expect(await users.session(s.id + 'x')).to.equal(undefined);
    const rows = await db.all<{ id_hash: string }>('SELECT id_hash FROM sessions');
    expect(rows.map((r) => r.id_hash)).to.not.include(s.id);
    await users.endSession(s.id);
    expect(await users.session(s.id)).to.equal(undefined);

    const s2 = await users.createSession({ name: 'chef', role: 'technician' });
    await users.setPassword('chef', 'Ein-neues-Passwort', 'chef');
    expect(await users.session(s2.id)).to.equal(undefined);
    expect(await users.verify('chef', PW)).to.equal(undefined);
    expect(await users.verify('chef', 'Ein-neues-Passwort')).to.deep.equal({ name: 'chef', role: 'technician' });
    const weak = await rejection(users.setPassword('chef', 'kurz', 'chef'));
    expect(weak.code).to.equal('user.password');
    const unknown = await rejection(users.setPassword('niemand', PW, 'chef'));
    expect([unknown.code, unknown.status, unknown.message]).to.deep.equal(['user.unknown', 404, 'Den Benutzer „niemand“ gibt es nicht.']);

    const s3 = await users.createSession({ name: 'chef', role: 'technician' });
    await users.remove('chef', 'chef');
    expect(await users.session(s3.id)).to.equal(undefined);
    expect(await users.list()).to.deep.equal([]);
    expect((await audit.list()).map((a) => a.event).slice(0, 2)).to.deep.equal(['user.remove', 'user.passwd']);
  });

  it('a removed user\'s sessions stay dead when a user of the same name is added again', async () => {
    await users.add('chef', 'technician', PW, 'setup');
    const old = await users.createSession({ name: 'chef', role: 'technician' });
    await users.remove('chef', 'setup');
    await users.add('chef', 'operator', 'Ein-anderes-Passwort', 'setup');
    expect(await users.session(old.id)).to.equal(undefined);
  });

  it('refuses an expired session and clears expired ones when a new one starts', async () => {
    await users.add('chef', 'technician', PW, 'setup');
    const s = await users.createSession({ name: 'chef', role: 'technician' });
    await db.write((tx) => tx.run('UPDATE sessions SET expires_at = ?', [new Date(Date.now() - 1000).toISOString()]));
    expect(await users.session(s.id)).to.equal(undefined);
    await users.createSession({ name: 'chef', role: 'technician' });
    expect((await db.all('SELECT id_hash FROM sessions'))).to.have.length(1);
  });

  it('takes the role from the user, not from the session (a demoted user is an operator at once)', async () => {
    await users.add('chef', 'technician', PW, 'setup');
    const s = await users.createSession({ name: 'chef', role: 'technician' });
    await db.write((tx) => tx.run("UPDATE users SET role = 'operator' WHERE name = 'chef'"));
    expect((await users.session(s.id))?.user.role).to.equal('operator');
  });

  it('lists the audit log newest first, limited', async () => {
    for (let i = 0; i < 5; i++) await audit.add('chef', `e${i}`, i % 2 ? 't' : null, { i });
    const list = await audit.list(3);
    expect(list.map((a) => [a.event, a.target, a.details])).to.deep.equal([['e4', null, { i: 4 }], ['e3', 't', { i: 3 }], ['e2', null, { i: 2 }]]);
    expect((await audit.list()).length).to.equal(5);
  });
});

// The lock-out (LoginLimiter: counted before the password check, per user and per client): in-process in
// rate-limit-units.test.ts, over HTTP in adversarial.test.ts and proxy.test.ts.
