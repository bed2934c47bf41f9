import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LOCKOUT_THRESHOLD } from '../../src/directory/users.ts';
import type { Runtime } from '../../src/runtime.ts';
import { DATABASE_KINDS, freshRuntime } from '../helpers/databases.ts';
import { rejectsWith, unique } from '../helpers/domain.ts';

const PASSWORD = 'correct horse battery staple';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(kind, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
    });
    after(() => cleanup());

    const userRow = (id: string) => rt.storage.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const countUsers = async () => (await rt.storage.db.selectFrom('users').select('id').execute()).length;

    describe('create and get', () => {
      test('creates a user with defaults and finds it by id, username and email', async () => {
        const name = unique('Ada');
        const user = await rt.directory.users.create({ username: ` ${name} `, email: `${name}@Example.com`, firstname: ' Ada ', attributes: { team: 'core' } });
        assert.match(user.id, /^[0-9a-f]{24}$/);
        assert.equal(user.username, name, 'trimmed, case kept');
        assert.equal(user.email, `${name}@Example.com`);
        assert.equal(user.firstname, 'Ada');
        assert.equal(user.state, 'ACTIVATED');
        assert.equal(user.account_locked, false);
        assert.equal(user.has_password, false);
        assert.deepEqual(user.attributes, { team: 'core' });

        assert.deepEqual(await rt.directory.users.get(user.id), user);
        assert.deepEqual(await rt.directory.users.get(name.toUpperCase()), user, 'by username, any case');
        assert.deepEqual(await rt.directory.users.get(`${name}@example.COM`.toLowerCase()), user, 'by email, any case');
        assert.deepEqual(await rt.directory.users.byId(user.id), user);
        assert.equal(await rt.directory.users.byId('f'.repeat(24)), undefined);
        await rejectsWith(rt.directory.users.get('nobody-here'), 'user.not_found', 404);

        const row = await userRow(user.id);
        assert.equal(row.username_key, name.toLowerCase());
        assert.equal(row.email_key, `${name}@example.com`.toLowerCase());
        assert.equal(row.password_hash, null);
        assert.equal(row.failed_logins, 0);
      });

      test('stores only an argon2id hash of a password given at creation', async () => {
        const name = unique('pw');
        const user = await rt.directory.users.create({ username: name, email: `${name}@example.com`, password: PASSWORD });
        assert.equal(user.has_password, true);
        const row = await userRow(user.id);
        assert.match(row.password_hash ?? '', /^\$argon2id\$/);
        assert.ok(!JSON.stringify(row).includes(PASSWORD));
      });

      test('rejects invalid input without writing anything', async () => {
        const before = await countUsers();
        await rejectsWith(rt.directory.users.create({ username: '-bad', email: 'x@example.com' }), 'user.invalid_username', 400);
        await rejectsWith(rt.directory.users.create({ username: unique('u'), email: 'not-an-email' }), 'user.invalid_email', 400);
        await rejectsWith(rt.directory.users.create({ username: unique('u'), email: `${unique('u')}@example.com`, password: 'short' }), 'user.password_too_short', 400);
        await rejectsWith(
          rt.directory.users.create({ username: unique('u'), email: `${unique('u')}@example.com`, attributes: { '1bad': 'x' } }),
          'user.invalid_attribute',
          400,
        );
        assert.equal(await countUsers(), before);
      });

      test('username and email are unique regardless of case; a clash writes nothing', async () => {
        const name = unique('Grace');
        const first = await rt.directory.users.create({ username: name, email: `${name}@example.com` });
        const before = await countUsers();

        const sameEmail = await rejectsWith(
          rt.directory.users.create({ username: unique('other'), email: `${name.toUpperCase()}@EXAMPLE.COM` }),
          'user.email_taken',
          409,
        );
        assert.match(sameEmail.message, /email/);
        await rejectsWith(rt.directory.users.create({ username: name.toUpperCase(), email: `${unique('other')}@example.com` }), 'user.username_taken', 409);
        // A username may not be another user's email either: sign-in accepts both.
        await rejectsWith(rt.directory.users.create({ username: `${name}@example.com`, email: `${unique('other')}@example.com` }), 'user.username_taken', 409);

        assert.equal(await countUsers(), before, 'nothing written');
        assert.deepEqual(await rt.directory.users.get(name), first);
      });

      test('list is ordered by username, case-insensitively', async () => {
        const prefix = unique('order');
        const b = await rt.directory.users.create({ username: `${prefix}B`, email: `${prefix}b@example.com` });
        const a = await rt.directory.users.create({ username: `${prefix}a`, email: `${prefix}a@example.com` });
        const c = await rt.directory.users.create({ username: `${prefix}c`, email: `${prefix}c@example.com` });
        const ids = (await rt.directory.users.list()).map((u) => u.id).filter((id) => [a.id, b.id, c.id].includes(id));
        assert.deepEqual(ids, [a.id, b.id, c.id]);
      });

      test('delete removes the user and their memberships', async () => {
        const name = unique('gone');
        const user = await rt.directory.users.create({ username: name, email: `${name}@example.com` });
        const group = await rt.directory.groups.create(unique('Leavers'));
        await rt.directory.groups.addMember(group.id, user.id);
        await rt.directory.users.delete(user.id);
        assert.equal(await rt.directory.users.byId(user.id), undefined);
        assert.deepEqual(await rt.directory.groups.memberIds(group.id), []);
        const memberships = await rt.storage.db.selectFrom('group_members').selectAll().where('user_id', '=', user.id).execute();
        assert.deepEqual(memberships, []);
      });
    });

    describe('passwords and sign-in', () => {
      test('setPassword then signIn by username or email succeeds', async () => {
        const name = unique('Sig');
        const user = await rt.directory.users.create({ username: name, email: `${name}@example.com` });
        await rejectsWith(rt.directory.users.setPassword(user.id, 'short'), 'user.password_too_short', 400);
        const updated = await rt.directory.users.setPassword(user.id, PASSWORD);
        assert.equal(updated.has_password, true);

        const byName = await rt.directory.users.signIn(` ${name.toUpperCase()} `, PASSWORD);
        assert.equal(byName.ok, true);
        assert.equal(byName.ok && byName.user.id, user.id);
        const byEmail = await rt.directory.users.signIn(`${name}@example.com`, PASSWORD);
        assert.equal(byEmail.ok && byEmail.user.id, user.id);
      });

      test('an unknown user or a user without a password gets bad_credentials', async () => {
        assert.deepEqual(await rt.directory.users.signIn('no-such-user', PASSWORD), { ok: false, reason: 'bad_credentials' });
        assert.deepEqual(await rt.directory.users.signIn('', PASSWORD), { ok: false, reason: 'bad_credentials' });
        const name = unique('nopw');
        await rt.directory.users.create({ username: name, email: `${name}@example.com` });
        assert.deepEqual(await rt.directory.users.signIn(name, PASSWORD), { ok: false, reason: 'bad_credentials' });
      });

      test('a wrong password counts a failure; a right one resets the count', async () => {
        const name = unique('count');
        const user = await rt.directory.users.create({ username: name, email: `${name}@example.com`, password: PASSWORD });
        for (let i = 1; i <= 3; i++) {
          assert.deepEqual(await rt.directory.users.signIn(name, 'wrong password'), { ok: false, reason: 'bad_credentials' });
          assert.equal((await userRow(user.id)).failed_logins, i);
        }
        assert.equal((await rt.directory.users.signIn(name, PASSWORD)).ok, true);
        const row = await userRow(user.id);
        assert.equal(row.failed_logins, 0);
        assert.equal(row.account_locked, 0);
      });

      test(`locks after ${LOCKOUT_THRESHOLD} consecutive failures, even against the right password; unlock resets`, async () => {
        const name = unique('lock');
        const user = await rt.directory.users.create({ username: name, email: `${name}@example.com`, password: PASSWORD });
        for (let i = 1; i < LOCKOUT_THRESHOLD; i++) {
          assert.deepEqual(await rt.directory.users.signIn(name, `wrong ${i}`), { ok: false, reason: 'bad_credentials' });
        }
        assert.equal((await userRow(user.id)).account_locked, 0, `not locked before failure ${LOCKOUT_THRESHOLD}`);
        assert.deepEqual(await rt.directory.users.signIn(name, 'wrong again'), { ok: false, reason: 'bad_credentials' });
        const locked = await userRow(user.id);
        assert.equal(locked.account_locked, 1);
        assert.equal(locked.failed_logins, LOCKOUT_THRESHOLD);
        assert.equal((await rt.directory.users.get(user.id)).account_locked, true);

        assert.deepEqual(await rt.directory.users.signIn(name, PASSWORD), { ok: false, reason: 'locked' });
        assert.deepEqual(await rt.directory.users.signIn(name, 'wrong'), { ok: false, reason: 'locked' });
        assert.equal((await userRow(user.id)).failed_logins, LOCKOUT_THRESHOLD, 'a locked account counts no further');

        const unlocked = await rt.directory.users.unlock(user.id);
        assert.equal(unlocked.account_locked, false);
        const row = await userRow(user.id);
        assert.equal(row.account_locked, 0);
        assert.equal(row.failed_logins, 0);
        assert.equal((await rt.directory.users.signIn(name, PASSWORD)).ok, true);
      });

      test('suspended and staged users are refused with their reason, and only with the right password', async () => {
        const suspendedName = unique('susp');
        const suspended = await rt.directory.users.create({ username: suspendedName, email: `${suspendedName}@example.com`, password: PASSWORD });
        assert.equal((await rt.directory.users.suspend(suspended.id)).state, 'SUSPENDED');
        assert.deepEqual(await rt.directory.users.signIn(suspendedName, PASSWORD), { ok: false, reason: 'suspended' });
        // A wrong password reveals nothing about the state.
        assert.deepEqual(await rt.directory.users.signIn(suspendedName, 'wrong password'), { ok: false, reason: 'bad_credentials' });
        assert.equal((await rt.directory.users.activate(suspended.id)).state, 'ACTIVATED');
        assert.equal((await rt.directory.users.signIn(suspendedName, PASSWORD)).ok, true);

        const stagedName = unique('staged');
        await rt.directory.users.create({ username: stagedName, email: `${stagedName}@example.com`, password: PASSWORD, state: 'STAGED' });
        assert.deepEqual(await rt.directory.users.signIn(stagedName, PASSWORD), { ok: false, reason: 'staged' });
      });
    });
  });
}
