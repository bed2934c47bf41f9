/**
 * The users routes of the directory REST API (src/http/routes/api/users.ts), over real HTTP with an
 * administrator's API key, on both databases: paging and search, look-ups, creation, profile
 * changes, state changes, passwords, roles, groups, deletion; the audit event each write leaves
 * (and that no password ever reaches the audit log); and concurrent writes to one user or one name.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { LOCKOUT_THRESHOLD, type User } from '../../../src/directory/users.ts';
import { type ApiResponse, adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
type AnyResponse = ApiResponse<any>;

/** Every password this file sends anywhere: none of them may ever appear in the audit log. */
const PASSWORDS = new Set<string>();
const password = (length = 20) => {
  const value = `Pw-${randomBytes(16).toString('hex')}`.slice(0, length);
  PASSWORDS.add(value);
  return value;
};

const USER_FIELDS = ['id', 'username', 'email', 'firstname', 'lastname', 'displayname', 'state', 'account_locked', 'has_password', 'attributes', 'role', 'created', 'updated'];

function assertUser(body: unknown): asserts body is User {
  assert.equal(typeof body, 'object');
  assert.deepEqual(Object.keys(body as object).sort(), [...USER_FIELDS].sort(), 'a user has exactly the documented fields (never a password or its hash)');
  assert.match((body as User).id, /^[0-9a-f]{24}$/);
}

/** An error response: the status, the stable code, and the documented `{code, message, details?}` shape. */
function assertError(response: AnyResponse, status: number, code: string): void {
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status}: ${response.text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(response.body.code, code);
  assert.equal(typeof response.body.message, 'string');
  assert.ok(response.body.message.length > 0);
  for (const key of Object.keys(response.body)) assert.ok(['code', 'message', 'details'].includes(key), `unexpected error field ${key}`);
}

let sequence = 0;
const unique = (prefix: string) => `${prefix}${++sequence}${randomBytes(3).toString('hex')}`;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`users API (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let admin: Awaited<ReturnType<typeof adminKey>>;
    const api = (method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: admin.key });
    /** A user made through the API (so it leaves its audit event like any other). */
    const createUser = async (fields: Record<string, unknown> = {}): Promise<User> => {
      const username = unique('user');
      const response = await api('POST', '/api/users', { username, email: `${username}@example.com`, ...fields });
      assert.equal(response.status, 201, response.text);
      return response.body;
    };

    before(async () => {
      gatehouse = await startGatehouse(kind);
      // An administrator, not the most powerful role, so that refusals above the caller's role show.
      admin = await adminKey(gatehouse, 'administrator');
    });
    after(() => gatehouse?.close());

    describe('listing and searching', () => {
      const seeded = ['Zelda', 'adam', 'Bella', 'carl9', 'ann_lee', 'annxlee', 'Dora'];

      before(async () => {
        for (const name of seeded) {
          await gatehouse.directory.users.create({ username: name, email: `${name.toLowerCase()}@list.example.org`, firstname: `First${name}`, lastname: 'Lister', displayname: `Shown ${name}` });
        }
      });

      test('lists every user in username order (case-insensitive), with the page parameters echoed', async () => {
        const response = await api('GET', '/api/users');
        assert.equal(response.status, 200, response.text);
        assert.equal(response.body.limit, 100, 'default limit');
        assert.equal(response.body.offset, 0, 'default offset');
        const all = await gatehouse.directory.users.list();
        assert.equal(response.body.total, all.length);
        assert.equal(response.body.data.length, all.length);
        for (const { groups, ...user } of response.body.data) {
          assertUser(user);
          assert.ok(Array.isArray(groups), 'each listed user carries their groups');
        }
        const listed = (response.body.data as User[]).map((u) => u.username);
        const mine = listed.filter((name) => seeded.includes(name));
        assert.deepEqual(mine, [...seeded].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)), 'ordered by username, ignoring case');
      });

      test('each listed user carries the groups they were added to, by name, without All Users', async () => {
        const { directory } = gatehouse;
        const zebras = await directory.groups.create('Zebras');
        const aardvarks = await directory.groups.create('aardvarks');
        await directory.groups.addMember(zebras.id, 'Bella');
        await directory.groups.addMember(aardvarks.id, 'Bella');
        const response = await api('GET', '/api/users?search=list.example.org');
        const byName = new Map((response.body.data as Array<User & { groups: { id: string; name: string }[] }>).map((u) => [u.username, u.groups]));
        assert.deepEqual(byName.get('Bella'), [
          { id: aardvarks.id, name: 'aardvarks' },
          { id: zebras.id, name: 'Zebras' },
        ]);
        assert.deepEqual(byName.get('Dora'), [], 'in All Users only');
        await directory.groups.delete(zebras.id);
        await directory.groups.delete(aardvarks.id);
      });

      test('limit=1 walks every user exactly once, in the same order, and the total stays put', async () => {
        const full = await api('GET', '/api/users?limit=1000');
        const expected = (full.body.data as User[]).map((u) => u.id);
        const walked: string[] = [];
        for (let offset = 0; ; offset++) {
          const page = await api('GET', `/api/users?limit=1&offset=${offset}`);
          assert.equal(page.status, 200, page.text);
          assert.equal(page.body.total, expected.length);
          assert.equal(page.body.limit, 1);
          assert.equal(page.body.offset, offset);
          if (page.body.data.length === 0) break;
          assert.equal(page.body.data.length, 1);
          walked.push(page.body.data[0].id);
          assert.ok(offset < expected.length + 5, 'the walk ends');
        }
        assert.deepEqual(walked, expected);
        assert.equal(new Set(walked).size, walked.length, 'nobody twice');
      });

      test('an offset beyond the end is an empty page with the real total', async () => {
        const total = (await gatehouse.directory.users.list()).length;
        for (const offset of [total, total + 1, 10_000]) {
          const response = await api('GET', `/api/users?offset=${offset}`);
          assert.equal(response.status, 200, response.text);
          assert.deepEqual(response.body.data, []);
          assert.equal(response.body.total, total);
          assert.equal(response.body.offset, offset);
        }
      });

      test('limit 0, limit 1001, a negative offset and a non-number are 400 naming the parameter', async () => {
        for (const [query, field] of [
          ['limit=0', 'limit'],
          ['limit=1001', 'limit'],
          ['limit=abc', 'limit'],
          ['offset=-1', 'offset'],
          ['limit=1.5', 'limit'],
        ] as const) {
          const response = await api('GET', `/api/users?${query}`);
          assertError(response, 400, 'request.invalid');
          assert.ok(
            response.body.details?.some((d: { path: string }) => d.path.split('.').at(-1) === field),
            `${query}: details name ${field}: ${response.text}`,
          );
        }
        const unknown = await api('GET', '/api/users?colour=red');
        assertError(unknown, 400, 'request.invalid');
        assert.ok(unknown.body.details.some((d: { path: string }) => d.path.endsWith('colour')), unknown.text);
      });

      test('search matches part of the username, the email or a name, ignoring case', async () => {
        const search = async (term: string) => {
          const response = await api('GET', `/api/users?search=${encodeURIComponent(term)}&limit=1000`);
          assert.equal(response.status, 200, response.text);
          const names = (response.body.data as User[]).map((u) => u.username);
          assert.equal(response.body.total, names.length, 'total counts the matches, not everyone');
          return names.sort();
        };
        assert.deepEqual(await search('ELD'), ['Zelda'], 'part of a username');
        assert.deepEqual(await search('dora@list'), ['Dora'], 'part of an email');
        assert.deepEqual(await search('firstbel'), ['Bella'], 'part of a first name');
        assert.deepEqual(await search('shown carl'), ['carl9'], 'part of a display name');
        assert.deepEqual(await search('lister'), [...seeded].sort(), 'a last name');
        assert.deepEqual(await search('list.example.org'), [...seeded].sort(), 'an email domain');
        assert.deepEqual(await search('nobody-has-this'), []);
      });

      test('search treats % and _ as plain characters, not wildcards', async () => {
        const underscore = await api('GET', `/api/users?search=${encodeURIComponent('n_l')}`);
        assert.deepEqual((underscore.body.data as User[]).map((u) => u.username), ['ann_lee'], 'annxlee does not match n_l');
        const percent = await api('GET', `/api/users?search=${encodeURIComponent('%')}`);
        assert.equal(percent.status, 200);
        assert.equal(percent.body.total, 0);
        const paged = await api('GET', '/api/users?search=lister&limit=2&offset=2');
        assert.equal(paged.body.total, seeded.length);
        assert.equal(paged.body.data.length, 2);
      });
    });

    describe('looking up one user', () => {
      test('by id, by username (any case) and by email', async () => {
        const user = await createUser({ firstname: 'Gil' });
        for (const ref of [user.id, user.username, user.username.toUpperCase(), user.email, user.email.toUpperCase()]) {
          const response = await api('GET', `/api/users/${encodeURIComponent(ref)}`);
          assert.equal(response.status, 200, `${ref}: ${response.text}`);
          assertUser(response.body);
          assert.equal(response.body.id, user.id);
          assert.equal(response.body.firstname, 'Gil');
        }
      });

      test('an unknown id, username or email is 404 user.not_found', async () => {
        for (const ref of ['0123456789abcdef01234567', 'nobody', 'nobody@example.com']) {
          assertError(await api('GET', `/api/users/${ref}`), 404, 'user.not_found');
        }
      });
    });

    describe('creating users', () => {
      test('with a password: activated, has_password, and the password signs them in', async () => {
        const secret = password();
        const user = await createUser({ password: secret, firstname: ' Ada ', lastname: 'Lovelace', displayname: 'Ada L.' });
        assertUser(user);
        assert.equal(user.state, 'ACTIVATED');
        assert.equal(user.has_password, true);
        assert.equal(user.account_locked, false);
        assert.equal(user.role, null);
        assert.equal(user.firstname, 'Ada', 'names are trimmed');
        assert.deepEqual(user.attributes, {});
        assert.equal(user.created, user.updated);
        assert.ok(!Number.isNaN(Date.parse(user.created)));
        const signIn = await gatehouse.directory.users.signIn(user.username, secret);
        assert.equal(signIn.ok, true);
      });

      test('without a password: no password, cannot sign in', async () => {
        const user = await createUser();
        assert.equal(user.has_password, false);
        assert.equal(user.state, 'ACTIVATED');
        assert.equal((await gatehouse.directory.users.signIn(user.username, 'anything-at-all')).ok, false);
      });

      test('STAGED, with custom attributes', async () => {
        const user = await createUser({ state: 'STAGED', attributes: { department: 'R&D', employee_id: '0042', 'cost.centre': 'x-1' } });
        assert.equal(user.state, 'STAGED');
        assert.deepEqual(user.attributes, { department: 'R&D', employee_id: '0042', 'cost.centre': 'x-1' });
        const stored = await gatehouse.directory.users.get(user.id);
        assert.deepEqual(stored.attributes, user.attributes);
        assert.equal(stored.state, 'STAGED');
      });

      test('an invalid attribute name, state or password is 400 and creates nobody', async () => {
        const username = unique('refused');
        const cases: [Record<string, unknown>, string][] = [
          [{ attributes: { '1bad': 'x' } }, 'user.invalid_attribute'],
          [{ state: 'SUSPENDED' }, 'request.invalid'],
          [{ password: password(5) }, 'user.password_too_short'],
        ];
        for (const [fields, code] of cases) {
          assertError(await api('POST', '/api/users', { username, email: `${username}@example.com`, ...fields }), 400, code);
        }
        assertError(await api('GET', `/api/users/${username}`), 404, 'user.not_found');
      });

      test('with a role up to the caller’s own', async () => {
        for (const role of ['administrator', 'manager', 'help_desk', 'read_only'] as const) {
          const user = await createUser({ role });
          assert.equal(user.role, role);
        }
      });

      test('a role above the caller’s own is 403 and creates nobody', async () => {
        const username = unique('boss');
        const response = await api('POST', '/api/users', { username, email: `${username}@example.com`, role: 'administrator_with_billing' });
        assertError(response, 403, 'auth.forbidden');
        assertError(await api('GET', `/api/users/${username}`), 404, 'user.not_found');
      });

      test('a taken username or email (either one, any case) is 409 naming which', async () => {
        const existing = await createUser();
        const fresh = unique('fresh');
        assertError(await api('POST', '/api/users', { username: existing.username.toUpperCase(), email: `${fresh}@example.com` }), 409, 'user.username_taken');
        assertError(await api('POST', '/api/users', { username: fresh, email: existing.email.toUpperCase() }), 409, 'user.email_taken');
        // Usernames and emails share one namespace.
        assertError(await api('POST', '/api/users', { username: existing.email, email: `${fresh}@example.com` }), 409, 'user.username_taken');
      });
    });

    describe('changing profiles', () => {
      test('changes only the fields sent; attributes are replaced as a whole', async () => {
        const user = await createUser({ firstname: 'Old', lastname: 'Name', attributes: { a: '1', b: '2' } });
        await new Promise((resolve) => setTimeout(resolve, 5));
        const newName = unique('renamed');
        const response = await api('PATCH', `/api/users/${user.id}`, {
          username: newName,
          email: `${newName}@example.net`,
          firstname: 'New',
          displayname: 'New Name',
          attributes: { c: '3' },
        });
        assert.equal(response.status, 200, response.text);
        assertUser(response.body);
        assert.equal(response.body.username, newName);
        assert.equal(response.body.email, `${newName}@example.net`);
        assert.equal(response.body.firstname, 'New');
        assert.equal(response.body.lastname, 'Name', 'untouched');
        assert.equal(response.body.displayname, 'New Name');
        assert.deepEqual(response.body.attributes, { c: '3' });
        assert.equal(response.body.created, user.created);
        assert.ok(response.body.updated > user.updated, 'updated moves on');
        // Reachable under the new names, not the old.
        assert.equal((await api('GET', `/api/users/${newName}`)).body.id, user.id);
        assertError(await api('GET', `/api/users/${user.username}`), 404, 'user.not_found');
      });

      test('an email already taken is 409 user.email_taken and changes nothing', async () => {
        const one = await createUser();
        const two = await createUser();
        assertError(await api('PATCH', `/api/users/${two.id}`, { email: one.email }), 409, 'user.email_taken');
        assertError(await api('PATCH', `/api/users/${two.id}`, { email: one.email.toUpperCase() }), 409, 'user.email_taken');
        assertError(await api('PATCH', `/api/users/${two.id}`, { username: one.username }), 409, 'user.username_taken');
        const after = await gatehouse.directory.users.get(two.id);
        assert.equal(after.email, two.email);
        assert.equal(after.username, two.username);
        // Its own email again is no conflict.
        assert.equal((await api('PATCH', `/api/users/${two.id}`, { email: two.email })).status, 200);
      });

      test('an unknown field is 400 with details naming it; an empty change is 400', async () => {
        const user = await createUser();
        const response = await api('PATCH', `/api/users/${user.id}`, { firstname: 'x', nickname: 'Bud' });
        assertError(response, 400, 'request.invalid');
        const paths = (response.body.details as { path: string; message: string }[]).map((d) => d.path);
        assert.ok(paths.some((path) => path.split('.').at(-1) === 'nickname'), `details name the field: ${paths.join(', ')}`);
        // Refused as a whole: the valid field did not change either.
        assert.equal((await gatehouse.directory.users.get(user.id)).firstname, '');
        for (const body of [{}, { password: 'sneaky-password' }, { role: 'administrator' }, { state: 'SUSPENDED' }, { id: '0123456789abcdef01234567' }]) {
          assertError(await api('PATCH', `/api/users/${user.id}`, body), 400, 'request.invalid');
        }
        assertError(await api('PATCH', '/api/users/nobody-here', { firstname: 'x' }), 404, 'user.not_found');
      });

      test('an invalid username or email is 400 with the field in details', async () => {
        const user = await createUser();
        for (const [body, code, field] of [
          [{ username: ' bad name' }, 'user.invalid_username', 'username'],
          [{ email: 'not-an-email' }, 'user.invalid_email', 'email'],
        ] as const) {
          const response = await api('PATCH', `/api/users/${user.id}`, body);
          assertError(response, 400, code);
          assert.ok(response.body.details?.some((d: { path: string }) => d.path.split('.').at(-1) === field), response.text);
        }
      });
    });

    describe('state, password, role and groups', () => {
      test('suspend and activate, and activate a staged user', async () => {
        const user = await createUser();
        const suspended = await api('POST', `/api/users/${user.id}/suspend`);
        assert.equal(suspended.status, 200, suspended.text);
        assertUser(suspended.body);
        assert.equal(suspended.body.state, 'SUSPENDED');
        const activated = await api('POST', `/api/users/${user.username}/activate`);
        assert.equal(activated.body.state, 'ACTIVATED');
        const staged = await createUser({ state: 'STAGED' });
        assert.equal((await api('POST', `/api/users/${staged.email}/activate`)).body.state, 'ACTIVATED');
        assertError(await api('POST', '/api/users/nobody-here/suspend'), 404, 'user.not_found');
      });

      test('unlock a user locked out by failed sign-ins', async () => {
        const secret = password();
        const user = await createUser({ password: secret });
        for (let i = 0; i < LOCKOUT_THRESHOLD; i++) await gatehouse.directory.users.signIn(user.username, 'wrong-password');
        assert.equal((await api('GET', `/api/users/${user.id}`)).body.account_locked, true);
        assert.deepEqual(await gatehouse.directory.users.signIn(user.username, secret), { ok: false, reason: 'locked' });
        const unlocked = await api('POST', `/api/users/${user.id}/unlock`);
        assert.equal(unlocked.status, 200, unlocked.text);
        assert.equal(unlocked.body.account_locked, false);
        assert.equal((await gatehouse.directory.users.signIn(user.username, secret)).ok, true);
      });

      test('set a password; one too short for the policy is 400 user.password_too_short', async () => {
        const user = await createUser();
        const short = await api('PUT', `/api/users/${user.id}/password`, { password: password(7) });
        assertError(short, 400, 'user.password_too_short');
        assert.ok(short.body.details?.some((d: { path: string }) => d.path.endsWith('password')), short.text);
        assertError(await api('PUT', `/api/users/${user.id}/password`, {}), 400, 'request.invalid');

        const secret = password();
        const set = await api('PUT', `/api/users/${user.id}/password`, { password: secret });
        assert.equal(set.status, 200, set.text);
        assertUser(set.body);
        assert.equal(set.body.has_password, true);
        assert.equal((await gatehouse.directory.users.signIn(user.username, secret)).ok, true);

        // The organisation's policy decides what is too short.
        await gatehouse.directory.settings.update({ password_min_length: 16 });
        try {
          assertError(await api('PUT', `/api/users/${user.id}/password`, { password: password(12) }), 400, 'user.password_too_short');
          assert.equal((await api('PUT', `/api/users/${user.id}/password`, { password: password(16) })).status, 200);
        } finally {
          await gatehouse.directory.settings.update({ password_min_length: 8 });
        }
      });

      test('grant, change and remove a role; never above the caller’s own', async () => {
        const user = await createUser();
        const granted = await api('PUT', `/api/users/${user.id}/role`, { role: 'help_desk' });
        assert.equal(granted.status, 200, granted.text);
        assert.equal(granted.body.role, 'help_desk');
        assert.equal((await api('PUT', `/api/users/${user.id}/role`, { role: 'administrator' })).body.role, 'administrator');
        assertError(await api('PUT', `/api/users/${user.id}/role`, { role: 'administrator_with_billing' }), 403, 'auth.forbidden');
        assert.equal((await gatehouse.directory.users.get(user.id)).role, 'administrator');
        const removed = await api('PUT', `/api/users/${user.id}/role`, { role: null });
        assert.equal(removed.status, 200, removed.text);
        assert.equal(removed.body.role, null);
        assertError(await api('PUT', `/api/users/${user.id}/role`, { role: 'owner' }), 400, 'request.invalid');
        assertError(await api('PUT', `/api/users/${user.id}/role`, {}), 400, 'request.invalid');

        // Someone above the caller keeps their role.
        const boss = await gatehouse.directory.users.create({ username: unique('boss'), email: `${unique('boss')}@example.com`, role: 'administrator_with_billing' });
        assertError(await api('PUT', `/api/users/${boss.id}/role`, { role: null }), 403, 'auth.forbidden');
        assertError(await api('PUT', `/api/users/${boss.id}/role`, { role: 'read_only' }), 403, 'auth.forbidden');
        assert.equal((await gatehouse.directory.users.get(boss.id)).role, 'administrator_with_billing');
      });

      test('the groups a user belongs to, always including All Users', async () => {
        const user = await createUser();
        const before = await api('GET', `/api/users/${user.id}/groups`);
        assert.equal(before.status, 200, before.text);
        assert.deepEqual(
          (before.body as { builtin: boolean }[]).map((g) => g.builtin),
          [true],
          'only the built-in All Users group',
        );
        const staff = await gatehouse.directory.groups.create(unique('staff'), 'The staff');
        await gatehouse.directory.groups.addMember(staff.id, user.id);
        const after = await api('GET', `/api/users/${user.username}/groups`);
        const names = (after.body as { name: string }[]).map((g) => g.name);
        assert.ok(names.includes(staff.name), names.join(', '));
        assert.equal(after.body.length, 2);
        const group = (after.body as Record<string, unknown>[]).find((g) => g.name === staff.name);
        assert.deepEqual(Object.keys(group ?? {}).sort(), ['builtin', 'created', 'description', 'id', 'name', 'updated']);
        assert.equal(group?.description, 'The staff');
        assertError(await api('GET', '/api/users/nobody-here/groups'), 404, 'user.not_found');
      });
    });

    describe('deleting users', () => {
      test('204, then gone: not found, not listed, and out of its groups', async () => {
        const user = await createUser();
        const group = await gatehouse.directory.groups.create(unique('team'));
        await gatehouse.directory.groups.addMember(group.id, user.id);
        const response = await api('DELETE', `/api/users/${user.id}`);
        assert.equal(response.status, 204, response.text);
        assert.equal(response.text, '');
        assertError(await api('GET', `/api/users/${user.id}`), 404, 'user.not_found');
        const listed = await api('GET', `/api/users?search=${user.username}`);
        assert.equal(listed.body.total, 0);
        assert.deepEqual(await gatehouse.directory.groups.memberIds(group.id), []);
        assertError(await api('DELETE', `/api/users/${user.id}`), 404, 'user.not_found');
      });

      test('deleting your own account is 409 user.self_delete', async () => {
        for (const ref of [admin.user.id, admin.user.username, admin.user.email]) {
          assertError(await api('DELETE', `/api/users/${ref}`), 409, 'user.self_delete');
        }
        assert.equal((await gatehouse.directory.users.get(admin.user.id)).id, admin.user.id);
        assert.equal((await api('GET', '/api/users?limit=1')).status, 200, 'the key still works');
      });
    });

    describe('concurrent writes', () => {
      test('parallel PATCHes of different fields of one user all land', async () => {
        const user = await createUser();
        const renamed = unique('para');
        const changes: Record<string, unknown>[] = [
          { firstname: 'Para' },
          { lastname: 'Llel' },
          { displayname: 'Para Llel' },
          { attributes: { team: 'blue' } },
          { email: `${renamed}@parallel.example.com` },
          { username: renamed },
        ];
        const responses = await Promise.all(changes.map((body) => api('PATCH', `/api/users/${user.id}`, body)));
        for (const response of responses) assert.equal(response.status, 200, response.text);
        const final = await api('GET', `/api/users/${user.id}`);
        assert.equal(final.body.firstname, 'Para');
        assert.equal(final.body.lastname, 'Llel');
        assert.equal(final.body.displayname, 'Para Llel');
        assert.deepEqual(final.body.attributes, { team: 'blue' });
        assert.equal(final.body.email, `${renamed}@parallel.example.com`);
        assert.equal(final.body.username, renamed);
        const events = await gatehouse.directory.audit.list({ action: 'user.update', target: user.id });
        assert.equal(events.events.filter((e) => e.outcome === 'success').length, changes.length, 'one audit event per change');
      });

      test('parallel creates of one username: exactly one 201, the rest 409 user.username_taken', async () => {
        const username = unique('race');
        const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => api('POST', '/api/users', { username, email: `${username}-${i}@example.com` })));
        const statuses = responses.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(', ')}`);
        for (const response of responses.filter((r) => r.status !== 201)) assertError(response, 409, 'user.username_taken');
        const listed = await api('GET', `/api/users?search=${username}`);
        assert.equal(listed.body.total, 1);
      });

      test('parallel creates of one email: exactly one 201, the rest 409 user.email_taken', async () => {
        const name = unique('mail');
        const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => api('POST', '/api/users', { username: `${name}-${i}`, email: `${name}@example.com` })));
        const statuses = responses.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(', ')}`);
        for (const response of responses.filter((r) => r.status !== 201)) assertError(response, 409, 'user.email_taken');
      });
    });

    describe('the audit trail', () => {
      test('each write leaves one event: the API key as actor, the user as target', async () => {
        const secret = password();
        const created = await createUser({ password: secret, attributes: { note: 'audited' } });
        const steps: [string, () => Promise<AnyResponse>, Record<string, unknown>?][] = [
          ['user.update', () => api('PATCH', `/api/users/${created.id}`, { firstname: 'Audit', lastname: 'Ed' }), { fields: ['firstname', 'lastname'] }],
          ['user.suspend', () => api('POST', `/api/users/${created.id}/suspend`)],
          ['user.activate', () => api('POST', `/api/users/${created.id}/activate`)],
          ['user.unlock', () => api('POST', `/api/users/${created.id}/unlock`)],
          ['user.set_password', () => api('PUT', `/api/users/${created.id}/password`, { password: password() })],
          ['user.set_role', () => api('PUT', `/api/users/${created.id}/role`, { role: 'read_only' }), { role: 'read_only' }],
          ['user.delete', () => api('DELETE', `/api/users/${created.id}`)],
        ];
        for (const [, step] of steps) assert.ok((await step()).status < 300);

        const actor = { type: 'api_key', id: admin.apiKey.id, name: `${admin.user.username}/${admin.apiKey.name}` };
        for (const [action, , details] of [['user.create', undefined, undefined] as const, ...steps]) {
          const { events } = await gatehouse.directory.audit.list({ action, target: created.id });
          assert.equal(events.length, 1, `${action}: one event (${JSON.stringify(events)})`);
          const event = events[0]!;
          assert.deepEqual(event.actor, actor, `${action}: the API key is the actor`);
          assert.equal(event.target?.type, 'user');
          assert.equal(event.target?.id, created.id);
          assert.ok(event.target?.name === created.username, `${action}: target named ${event.target?.name}`);
          assert.equal(event.outcome, 'success');
          assert.equal(event.source_ip, '127.0.0.1');
          if (details) assert.deepEqual(event.details, details, `${action}: details`);
        }
      });

      test('a refused change is recorded as a failure with its code', async () => {
        const one = await createUser();
        const two = await createUser();
        assertError(await api('PATCH', `/api/users/${two.id}`, { email: one.email }), 409, 'user.email_taken');
        const { events } = await gatehouse.directory.audit.list({ action: 'user.update', target: two.id });
        assert.equal(events.length, 1);
        assert.equal(events[0]?.outcome, 'failure');
        assert.deepEqual(events[0]?.details, { code: 'user.email_taken' });
        assert.equal(events[0]?.actor.id, admin.apiKey.id);

        const username = unique('weak');
        assertError(await api('POST', '/api/users', { username, email: `${username}@example.com`, password: password(6) }), 400, 'user.password_too_short');
        const refused = await gatehouse.directory.audit.list({ action: 'user.create', target: username });
        assert.equal(refused.events[0]?.outcome, 'failure');
        assert.deepEqual(refused.events[0]?.details, { code: 'user.password_too_short' });
      });

      test('no password sent in this file appears anywhere in the audit log', async () => {
        const rows = await gatehouse.runtime.storage.db.selectFrom('audit_events').selectAll().execute();
        assert.ok(rows.length > 20, `the log has the events of this file (${rows.length})`);
        const dump = JSON.stringify(rows);
        assert.ok(PASSWORDS.size >= 10, 'passwords were sent');
        for (const secret of PASSWORDS) assert.ok(!dump.includes(secret), `a password (${secret.slice(0, 5)}…) is in the audit log`);
        assert.ok(!/argon2/i.test(dump), 'no password hash either');
      });
    });
  });
}
