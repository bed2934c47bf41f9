/**
 * Issue 12 §4, the organisation's password rules and account lockout, on both databases: minimum
 * length (default 12, 8–64), no common passwords (the list shipped with Gatehouse), no username or
 * email in the password, no blank ones; each refusal with its own code wherever a password is set
 * (the domain, the REST API, the JumpCloud-compatible API, the user portal's own change, the command
 * line), each rule's switch honoured; the settings' validation; the lockout threshold and window,
 * with the user store's clock moved instead of sleeping.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, afterEach, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commonPasswordCount, isCommonPassword, personalParts } from '../../../src/directory/passwords.ts';
import { DEFAULT_SETTINGS, type Settings } from '../../../src/directory/settings.ts';
import { createUserStore } from '../../../src/directory/users.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { rejectsWith, unique } from '../../helpers/domain.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { portalSignIn } from '../../helpers/portal.ts';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const GOOD = 'a sturdy passphrase 1843';

test('the common-password list ships with Gatehouse: over 10,000 entries, looked up in any case', () => {
  assert.ok(commonPasswordCount() >= 10_000, `only ${commonPasswordCount()} entries`);
  for (const common of ['password', 'PASSWORD', 'Password1234', 'qwerty123456', 'football', 'LeaveMeAlone']) assert.equal(isCommonPassword(common), true, common);
  for (const uncommon of [GOOD, 'correct horse battery staple', 'password ', 'xk7-vault-orbit-9']) assert.equal(isCommonPassword(uncommon), false, uncommon);
});

test('personal parts: the username, the email and its local part, and their pieces of 3 or more characters; not the domain', () => {
  assert.deepEqual(personalParts({ username: 'Ada.Lovelace', email: 'Countess.Ada@Analytical.example' }).sort(), [
    'ada',
    'ada.lovelace',
    'countess',
    'countess.ada',
    'countess.ada@analytical.example',
    'lovelace',
  ]);
  assert.deepEqual(personalParts({ username: 'al', email: 'al@x.example' }), ['al@x.example'], 'parts under 3 characters are left out');
});

/** `gatehouse ARGS` as a child process, with the password on stdin. */
function gatehouseCli(args: string[], env: Record<string, string>, input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([key, value]) => !key.startsWith('GATEHOUSE_') && value !== undefined)) as Record<string, string>;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...baseEnv, ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`password rules and lockout (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let billingKey: string;
    const settings = (changes: Partial<Settings>) => gatehouse.directory.settings.update(changes);
    const api = (method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: billingKey });
    /** A user without a password, named so that the personal rule has something to find. */
    const person = (prefix = 'ada') => {
      const username = `${unique(prefix)}.lovelace`;
      return gatehouse.directory.users.create({ username, email: `countess.${username}@analytical.example` });
    };

    before(async () => {
      gatehouse = await startGatehouse(kind);
      billingKey = (await adminKey(gatehouse, 'administrator_with_billing')).key;
    });
    // Every test starts from the defaults, whatever the one before changed.
    afterEach(() => settings(DEFAULT_SETTINGS));
    after(() => gatehouse?.close());

    test('the defaults: 12 characters, common and personal passwords refused, 10 failures within 12 hours', async () => {
      const current = await gatehouse.directory.settings.get();
      assert.equal(current.password_min_length, 12);
      assert.equal(current.password_reject_common, true);
      assert.equal(current.password_reject_personal, true);
      assert.equal(current.lockout_threshold, 10);
      assert.equal(current.lockout_window, 12 * 3600);
      assert.deepEqual((await api('GET', '/api/settings')).body, current);
    });

    test('length: under the minimum is user.password_too_short, the minimum itself is accepted; the organisation sets it', async () => {
      const user = await person();
      const short = await rejectsWith(gatehouse.directory.users.setPassword(user.id, 'x7-vault-or'), 'user.password_too_short', 400);
      assert.match(short.message, /at least 12 characters/);
      await gatehouse.directory.users.setPassword(user.id, 'x7-vault-orb');
      await settings({ password_min_length: 8 });
      await gatehouse.directory.users.setPassword(user.id, 'x7-vault');
      await settings({ password_min_length: 64 });
      await rejectsWith(gatehouse.directory.users.setPassword(user.id, 'x'.repeat(63)), 'user.password_too_short', 400);
      await gatehouse.directory.users.setPassword(user.id, 'xk7-'.repeat(16));
    });

    test('common passwords are user.password_common in any case; with the rule off they are accepted', async () => {
      const user = await person();
      const refused = await rejectsWith(gatehouse.directory.users.setPassword(user.id, 'Password1234'), 'user.password_common', 400);
      assert.equal(refused.details?.[0]?.path, 'password');
      await rejectsWith(gatehouse.directory.users.create({ username: unique('cleo'), email: `${unique('cleo')}@example.com`, password: 'QWERTY123456' }), 'user.password_common', 400);
      await settings({ password_reject_common: false });
      await gatehouse.directory.users.setPassword(user.id, 'Password1234');
      assert.equal((await gatehouse.directory.users.signIn(user.username, 'Password1234')).ok, true);
    });

    test('the username, the email or a part of them is user.password_personal, in any case; with the rule off it is accepted', async () => {
      const user = await person();
      const [first] = user.username.split('.');
      for (const personal of [`my ${user.username.toUpperCase()} 1843`, 'Lovelace-engine-1843', 'the countess rides', `${first}-and-the-engine`, `mail ${user.email} now`]) {
        const refused = await rejectsWith(gatehouse.directory.users.setPassword(user.id, personal), 'user.password_personal', 400);
        assert.doesNotMatch(refused.message, new RegExp(personal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i'), 'the message never repeats the password');
      }
      // Not personal: the email's domain, and pieces under 3 characters.
      await gatehouse.directory.users.setPassword(user.id, 'Analytical-engine-1843');
      const al = await gatehouse.directory.users.create({ username: 'al', email: 'al@x.example' });
      await gatehouse.directory.users.setPassword(al.id, 'totally calm river');
      // At creation too, against the names being created.
      await rejectsWith(
        gatehouse.directory.users.create({ username: 'grace.hopper', email: 'admiral@navy.example', password: 'admiral of the fleet' }),
        'user.password_personal',
        400,
      );
      await settings({ password_reject_personal: false });
      await gatehouse.directory.users.setPassword(user.id, 'Lovelace-engine-1843');
      assert.equal((await gatehouse.directory.users.signIn(user.username, 'Lovelace-engine-1843')).ok, true);
    });

    test('blank passwords are user.password_blank, whatever the length rule', async () => {
      const user = await person();
      await settings({ password_min_length: 8 });
      for (const blank of [' '.repeat(12), '\t \u00a0'.repeat(5)]) await rejectsWith(gatehouse.directory.users.setPassword(user.id, blank), 'user.password_blank', 400);
    });

    test('settings: each value checked against its range or type; nothing changes when one is wrong; a change is audited', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ password_min_length: 7 }, 'password_min_length'],
        [{ password_min_length: 65 }, 'password_min_length'],
        [{ password_min_length: 12.5 }, 'password_min_length'],
        [{ password_reject_common: 'yes' }, 'password_reject_common'],
        [{ password_reject_personal: 'on' }, 'password_reject_personal'],
        [{ lockout_threshold: 2 }, 'lockout_threshold'],
        [{ lockout_threshold: 101 }, 'lockout_threshold'],
        [{ lockout_window: 59 }, 'lockout_window'],
        [{ lockout_window: 30 * 24 * 3600 + 1 }, 'lockout_window'],
        [{ lockout_threshold: 5, lockout_window: 'an hour' }, 'lockout_window'],
      ];
      for (const [body, path] of cases) {
        const response = await api('PATCH', '/api/settings', body);
        assert.equal(response.status, 400, `${JSON.stringify(body)}: ${response.text}`);
        assert.ok(response.body.details?.some((detail: { path: string }) => detail.path.endsWith(path)), `${JSON.stringify(body)}: ${response.text}`);
      }
      // The domain refuses what the API schema would (the console and other callers go through it too).
      await rejectsWith(gatehouse.directory.settings.update({ lockout_threshold: 2 }), 'settings.invalid', 400);
      await rejectsWith(gatehouse.directory.settings.update({ password_reject_common: 'no' as unknown as boolean }), 'settings.invalid', 400);
      assert.deepEqual(await gatehouse.directory.settings.get(), DEFAULT_SETTINGS);

      const changed = { password_min_length: 16, password_reject_common: false, password_reject_personal: false, lockout_threshold: 5, lockout_window: 900 };
      const response = await api('PATCH', '/api/settings', changed);
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body, { ...DEFAULT_SETTINGS, ...changed });
      const [event] = (await gatehouse.directory.audit.list({ action: 'settings.update' })).events;
      assert.deepEqual([...((event?.details?.['fields'] as string[] | undefined) ?? [])].sort(), Object.keys(changed).sort());
    });

    test('the REST API and the JumpCloud-compatible API answer each rule with its code', async () => {
      const username = unique('ines');
      const common = await api('POST', '/api/users', { username, email: `${username}@example.com`, password: 'Qwerty123456' });
      assert.equal(common.status, 400, common.text);
      assert.equal(common.body.code, 'user.password_common');
      assert.match(common.body.message, /most commonly used/);
      const user = await gatehouse.directory.users.create({ username, email: `${username}@example.com` });
      const personal = await api('PUT', `/api/users/${user.id}/password`, { password: `${username}-passphrase` });
      assert.equal(personal.status, 400, personal.text);
      assert.equal(personal.body.code, 'user.password_personal');
      assert.ok(personal.body.details?.some((detail: { path: string }) => detail.path.endsWith('password')), personal.text);
      const jumpcloud = await api('PUT', `/api/systemusers/${user.id}`, { password: 'password1234' });
      assert.equal(jumpcloud.status, 400, jumpcloud.text);
      assert.equal(jumpcloud.body.code, 'user.password_common');
      const short = await api('PUT', `/api/systemusers/${user.id}`, { password: 'x7-vault' });
      assert.equal(short.body.code, 'user.password_too_short');
      assert.equal((await gatehouse.directory.users.get(user.id)).has_password, false, 'nothing was set');
      assert.equal((await api('PUT', `/api/users/${user.id}/password`, { password: GOOD })).status, 200);
    });

    test("the portal's own change (POST /api/me/password) keeps to the rules, naming new_password", async () => {
      const username = unique('pia');
      await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: GOOD });
      const session = await portalSignIn(gatehouse, username, GOOD);
      const change = (newPassword: string) => call(gatehouse, 'POST', '/api/me/password', { current_password: GOOD, new_password: newPassword }, { key: session.accessToken, bearer: true });
      for (const [newPassword, code] of [
        ['x7-vault', 'user.password_too_short'],
        ['Password1234', 'user.password_common'],
        [`${username} forever`, 'user.password_personal'],
        [' '.repeat(14), 'user.password_blank'],
      ] as const) {
        const refused = await change(newPassword);
        assert.equal(refused.status, 400, refused.text);
        assert.equal(refused.body.code, code, newPassword);
        assert.equal(refused.body.details?.[0]?.path, 'new_password');
      }
      assert.equal((await change('another sturdy passphrase')).status, 204);
      assert.equal((await gatehouse.directory.users.signIn(username, 'another sturdy passphrase')).ok, true);
    });

    test('the command line refuses with one line naming the rule and exit 1; a good password is set', async () => {
      const { config } = gatehouse.runtime;
      const env = config.databaseUrl ? { GATEHOUSE_DATABASE_URL: config.databaseUrl } : {};
      const cli = (args: string[], input: string) => gatehouseCli([...args, '--data-dir', config.dataDir], env, input);
      const username = unique('carl');
      const create = ['users', 'create', '--username', username, '--email', `${username}@example.com`, '--password-stdin'];
      for (const [input, pattern] of [
        ['password1234\n', /most commonly used passwords/],
        [`${username}-was-here\n`, /may not contain the person's username or email/],
        ['short-one\n', /at least 12 characters/],
      ] as const) {
        const refused = await cli(create, input);
        assert.equal(refused.code, 1, refused.stderr);
        assert.equal(refused.stdout, '');
        assert.match(refused.stderr, /^gatehouse: [^\n]+\n$/);
        assert.match(refused.stderr, pattern);
      }
      assert.equal((await cli(create, `${GOOD}\n`)).code, 0);
      const personal = await cli(['users', 'set-password', username, '--password-stdin'], `my name is ${username.toUpperCase()}\n`);
      assert.equal(personal.code, 1, personal.stderr);
      assert.match(personal.stderr, /username or email/);
      const set = await cli(['users', 'set-password', username, '--password-stdin'], 'yet another sturdy passphrase\n');
      assert.equal(set.code, 0, set.stderr);
      assert.equal((await gatehouse.directory.users.signIn(username, 'yet another sturdy passphrase')).ok, true);
    });

    describe('lockout threshold and window', () => {
      let now = Date.parse('2026-03-01T09:00:00.000Z');
      const minutes = (n: number) => {
        now += n * 60_000;
      };
      /** The directory's user store on the same database, with a clock the test moves. */
      const users = () => createUserStore(gatehouse.runtime.storage.db, () => now);
      const fails = async (username: string, times: number) => {
        for (let i = 0; i < times; i++) assert.equal((await users().signIn(username, `wrong guess ${i}`)).ok, false);
      };
      const locked = async (id: string) => (await gatehouse.directory.users.get(id)).account_locked;
      const member = async () => {
        const user = await person('lock');
        await gatehouse.directory.users.setPassword(user.id, GOOD);
        return user;
      };

      test('the threshold is the organisation\'s: 3 failures within the window lock, and then even the right password is refused', async () => {
        await settings({ lockout_threshold: 3, lockout_window: 600 });
        const user = await member();
        await fails(user.username, 2);
        assert.equal(await locked(user.id), false);
        minutes(9);
        await fails(user.username, 1);
        assert.equal(await locked(user.id), true, 'the third failure, within ten minutes of the second');
        minutes(60 * 24);
        assert.deepEqual(await users().signIn(user.username, GOOD), { ok: false, reason: 'locked' }, 'no automatic unlock: an administrator unlocks');
        await gatehouse.directory.users.unlock(user.id);
        assert.equal((await users().signIn(user.username, GOOD)).ok, true);
      });

      test('failures older than the window stop counting: the count starts again', async () => {
        await settings({ lockout_threshold: 3, lockout_window: 600 });
        const user = await member();
        await fails(user.username, 2);
        minutes(10);
        minutes(0.1);
        await fails(user.username, 2);
        assert.equal(await locked(user.id), false, 'two old failures and two new ones are only two');
        const row = await gatehouse.runtime.storage.db.selectFrom('users').select(['failed_logins', 'last_failed_login_at']).where('id', '=', user.id).executeTakeFirstOrThrow();
        assert.equal(row.failed_logins, 2);
        assert.equal(row.last_failed_login_at, new Date(now).toISOString());
        // Measured from the latest failure, not the first: steady guessing keeps every failure counting.
        minutes(9);
        await fails(user.username, 1);
        assert.equal(await locked(user.id), true);
      });

      test('a right password starts the count again; the default threshold of 10 holds with the default window', async () => {
        const user = await member();
        await fails(user.username, 9);
        assert.equal((await users().signIn(user.username, GOOD)).ok, true);
        await fails(user.username, 9);
        assert.equal(await locked(user.id), false);
        minutes(11 * 60);
        await fails(user.username, 1);
        assert.equal(await locked(user.id), true, 'ten failures, each within 12 hours of the one before');
      });

      test('wrong second-factor codes count under the same threshold and window', async () => {
        await settings({ lockout_threshold: 3, lockout_window: 600 });
        const user = await member();
        await fails(user.username, 1);
        minutes(11);
        assert.deepEqual(await users().secondFactorAttempt(user.id, async () => false), { ok: false, reason: 'bad_credentials' });
        assert.deepEqual(await users().secondFactorAttempt(user.id, async () => false), { ok: false, reason: 'bad_credentials' });
        assert.equal(await locked(user.id), false, 'the password failure had gone stale');
        minutes(1);
        assert.deepEqual(await users().secondFactorAttempt(user.id, async () => false), { ok: false, reason: 'bad_credentials' });
        assert.equal(await locked(user.id), true);
        assert.deepEqual(await users().secondFactorAttempt(user.id, async () => true), { ok: false, reason: 'locked' });
      });

      test('lowering the threshold applies to the next attempt: an account already over it is locked, unchecked', async () => {
        const user = await member();
        await fails(user.username, 5);
        await settings({ lockout_threshold: 4 });
        assert.deepEqual(await users().signIn(user.username, GOOD), { ok: false, reason: 'locked' });
        assert.equal(await locked(user.id), true);
      });
    });
  });
}
