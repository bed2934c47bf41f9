/**
 * The JumpCloud-compatible routes (src/http/routes/api/jumpcloud*.ts) over real HTTP, on both
 * databases: the v1 system-user shape and list (paging defaults, sort, fields, every filter
 * operator, ANDed and ORed filters), user writes and their audit events, the v2 user groups, their
 * members and app associations, /v2/users/{id}/memberof, and authentication: x-api-key with an
 * ignored x-org-id, 401 without a key, 403 for a read-only key on every write.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../../src/directory/audit.ts';
import { LOCKOUT_THRESHOLD, type User } from '../../../src/directory/users.ts';
import { type ApiResponse, adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

const SYSTEM_USER_FIELDS = [
  '_id', 'id', 'username', 'email', 'firstname', 'lastname', 'middlename', 'displayname', 'activated', 'account_locked', 'state', 'suspended', 'created',
  'attributes', 'password_expired', 'totp_enabled', 'externally_managed',
];
const GROUP_FIELDS = ['id', 'name', 'type', 'description', 'email', 'attributes', 'membershipMethod'];

// biome-ignore lint/suspicious/noExplicitAny: response bodies of every shape
type Json = any;

function assertError(response: ApiResponse<Json>, status: number, code?: string): void {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.text}`);
  assert.equal(typeof response.body.message, 'string');
  if (code) assert.equal(response.body.code, code);
}

let sequence = 0;
const unique = (prefix: string) => `${prefix}${++sequence}${randomBytes(3).toString('hex')}`;
const password = () => `Pw-${randomBytes(12).toString('hex')}`;

/** What JumpCloud would show for a user: the test's own reading of the rules, not the code's. */
function jumpCloudView(user: User): Record<string, unknown> {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    firstname: user.firstname,
    lastname: user.lastname,
    displayname: user.displayname,
    state: user.state,
    activated: user.has_password && user.state !== 'STAGED',
    suspended: user.state === 'SUSPENDED',
    account_locked: user.account_locked,
    created: user.created,
  };
}

/** Byte order (ASCII data here), false before true: how a database compares them. */
const compare = (a: unknown, b: unknown): number => (a === b ? 0 : (a as string) < (b as string) ? -1 : 1);

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`JumpCloud-compatible API (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let admin: Awaited<ReturnType<typeof adminKey>>;
    let readOnlyKey: string;
    let helpdeskKey: string;
    const api = (method: string, path: string, body?: unknown, key = admin.key) => call<Json>(gatehouse, method, path, body, { key });
    /** The directory's users, in the JumpCloud view, in the default order (creation, then id). */
    const everyone = async () => (await gatehouse.directory.users.list()).map(jumpCloudView).sort((a, b) => compare(a.created, b.created) || compare(a.id, b.id));
    const ids = (response: ApiResponse<Json>): string[] => {
      assert.equal(response.status, 200, response.text);
      return response.body.results.map((u: { id: string }) => u.id);
    };
    const list = (query: string) => api('GET', `/api/systemusers?limit=1000&${query}`);
    async function auditOf(action: string, targetId: string): Promise<AuditEvent[]> {
      return (await gatehouse.directory.audit.list({ action, target: targetId })).events;
    }
    async function assertAudited(action: string, targetId: string, details?: Record<string, unknown>): Promise<void> {
      const events = (await auditOf(action, targetId)).filter((e) => e.outcome === 'success');
      assert.equal(events.length, 1, `one ${action} event for ${targetId}: ${JSON.stringify(events)}`);
      assert.equal(events[0]?.actor.type, 'api_key');
      assert.equal(events[0]?.actor.id, admin.apiKey.id);
      if (details) assert.deepEqual(events[0]?.details, details);
    }
    async function lock(user: User): Promise<void> {
      for (let i = 0; i < LOCKOUT_THRESHOLD; i++) await gatehouse.directory.users.signIn(user.username, 'not the password');
      assert.equal((await gatehouse.directory.users.get(user.id)).account_locked, true);
    }

    // A small directory with every state, names in mixed case, and values that compare interestingly.
    const people: Record<string, User> = {};
    before(async () => {
      gatehouse = await startGatehouse(kind);
      admin = await adminKey(gatehouse, 'administrator');
      readOnlyKey = (await adminKey(gatehouse, 'administrator', { scope: 'read_only' })).key;
      helpdeskKey = (await adminKey(gatehouse, 'help_desk')).key;
      const d = gatehouse.directory.users;
      const specs = [
        { username: 'ada', email: 'ada@lovelace.test', firstname: 'Ada', lastname: 'Lovelace', displayname: 'Ada L', password: password(), attributes: { dept: 'math', site: 'London' } },
        { username: 'Alan', email: 'alan@turing.test', firstname: 'Alan', lastname: 'Turing', password: password() },
        { username: 'grace', email: 'Grace@Hopper.test', firstname: 'grace', lastname: 'Hopper', displayname: 'Amazing: Grace' },
        { username: 'staged', email: 'staged@example.test', firstname: 'Stan', lastname: 'Staged', state: 'STAGED' as const, password: password() },
        { username: 'suspended', email: 'suspended@example.test', firstname: 'Sue', lastname: 'Spended', password: password() },
        { username: 'locked', email: 'locked@example.test', firstname: 'Lock', lastname: 'Smith', password: password() },
        { username: 'edsger', email: 'edsger@dijkstra.test', firstname: 'Edsger', lastname: 'Dijkstra' },
        { username: 'barbara', email: 'barbara@liskov.test', firstname: 'Barbara', lastname: 'Liskov', password: password() },
      ];
      for (const spec of specs) people[spec.username] = await d.create(spec);
      await d.suspend(people.suspended?.id as string);
      await lock(people.locked as User);
      for (let i = 0; i < 6; i++) await d.create({ username: unique('filler'), email: `${unique('filler')}@example.test`, lastname: `Filler${i}` });
    });
    after(() => gatehouse?.close());

    describe('authentication', () => {
      test('401 without a key or with a wrong one, on every kind of route', async () => {
        const group = (await gatehouse.directory.groups.list())[0]?.id;
        for (const [method, path] of [
          ['GET', '/api/systemusers'],
          ['GET', `/api/systemusers/${people.ada?.id}`],
          ['POST', '/api/systemusers'],
          ['GET', '/api/v2/usergroups'],
          ['GET', `/api/v2/usergroups/${group}/members`],
          ['GET', `/api/v2/users/${people.ada?.id}/memberof`],
        ] as const) {
          const body = method === 'POST' ? { username: 'x', email: 'x@example.test' } : undefined;
          assertError(await call(gatehouse, method, path, body), 401, 'auth.invalid_credentials');
          assertError(await call(gatehouse, method, path, body, { key: 'gh_wrong' }), 401, 'auth.invalid_credentials');
        }
      });

      test('x-org-id (multi-tenant JumpCloud admins send it) is accepted and ignored', async () => {
        const plain = await api('GET', '/api/systemusers?limit=100');
        const withOrg = await call<Json>(gatehouse, 'GET', '/api/systemusers?limit=100', undefined, { key: admin.key, headers: { 'x-org-id': '5f0c1b2a3d4e5f6a7b8c9d0e' } });
        assert.equal(withOrg.status, 200, withOrg.text);
        assert.deepEqual(withOrg.body, plain.body);
        const groups = await call<Json>(gatehouse, 'GET', '/api/v2/usergroups', undefined, { key: admin.key, headers: { 'x-org-id': 'anything' } });
        assert.equal(groups.status, 200, groups.text);
      });

      test('Authorization: Bearer works as well as x-api-key', async () => {
        const response = await call<Json>(gatehouse, 'GET', '/api/systemusers', undefined, { key: admin.key, bearer: true });
        assert.equal(response.status, 200, response.text);
      });
    });

    describe('GET /systemusers', () => {
      test('each user in the JumpCloud shape, with activated, suspended and locked as JumpCloud means them', async () => {
        const response = await list('');
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(Object.keys(response.body).sort(), ['results', 'totalCount']);
        const expected = await everyone();
        assert.equal(response.body.totalCount, expected.length);
        for (const user of response.body.results) {
          assert.deepEqual(Object.keys(user).sort(), [...SYSTEM_USER_FIELDS].sort());
          assert.equal(user._id, user.id);
          assert.equal(user.middlename, '');
          assert.equal(user.password_expired, false);
          assert.equal(user.totp_enabled, false);
          assert.equal(user.externally_managed, false);
        }
        const byName = new Map(response.body.results.map((u: Json) => [u.username, u]));
        const view = (name: string) => byName.get(name) as Json;
        assert.deepEqual(
          Object.fromEntries(['ada', 'grace', 'staged', 'suspended', 'locked'].map((n) => [n, [view(n).activated, view(n).state, view(n).suspended, view(n).account_locked]])),
          {
            ada: [true, 'ACTIVATED', false, false],
            grace: [false, 'ACTIVATED', false, false], // no password yet
            staged: [false, 'STAGED', false, false], // a password, but staged
            suspended: [true, 'SUSPENDED', true, false],
            locked: [true, 'ACTIVATED', false, true],
          },
        );
        assert.deepEqual(view('ada').attributes, [
          { name: 'dept', value: 'math' },
          { name: 'site', value: 'London' },
        ]);
        assert.equal(view('ada').created, people.ada?.created);
        assert.deepEqual(
          response.body.results.map((u: Json) => u.id),
          expected.map((u) => u.id),
          'creation order by default',
        );
      });

      test('limit defaults to 10; skip pages through everyone once; totalCount is the whole match', async () => {
        const expected = (await everyone()).map((u) => u.id);
        assert.ok(expected.length > 10);
        const first = await api('GET', '/api/systemusers');
        assert.deepEqual(ids(first), expected.slice(0, 10));
        assert.equal(first.body.totalCount, expected.length);
        const walked: string[] = [];
        for (let skip = 0; ; skip += 4) {
          const page = await api('GET', `/api/systemusers?limit=4&skip=${skip}`);
          assert.equal(page.body.totalCount, expected.length);
          if (page.body.results.length === 0) break;
          walked.push(...ids(page));
        }
        assert.deepEqual(walked, expected);
        assert.deepEqual(ids(await api('GET', `/api/systemusers?skip=${expected.length + 5}`)), []);
        for (const query of ['limit=0', 'limit=1001', 'skip=-1', 'limit=ten', 'colour=red']) {
          assertError(await api('GET', `/api/systemusers?${query}`), 400, 'request.invalid');
        }
        assert.equal(ids(await api('GET', '/api/systemusers?limit=1000')).length, expected.length, 'up to 1000 at once');
      });

      test('sort: one field or several (space- or comma-separated), -field descending, byte order', async () => {
        const users = await everyone();
        const sorted = (...keys: [string, 1 | -1][]) =>
          [...users].sort((a, b) => {
            for (const [key, sign] of keys) {
              const c = compare(a[key], b[key]);
              if (c) return c * sign;
            }
            return compare(a.id, b.id);
          }).map((u) => u.id);
        assert.deepEqual(ids(await list('sort=username')), sorted(['username', 1]));
        assert.ok(ids(await list('sort=username')).indexOf(people.Alan?.id as string) < ids(await list('sort=username')).indexOf(people.ada?.id as string), 'capitals first');
        assert.deepEqual(ids(await list('sort=-email')), sorted(['email', -1]));
        assert.deepEqual(ids(await list(`sort=${encodeURIComponent('state -lastname')}`)), sorted(['state', 1], ['lastname', -1]));
        assert.deepEqual(ids(await list('sort=activated,-firstname')), sorted(['activated', 1], ['firstname', -1]));
        assert.deepEqual(ids(await list('sort=-created')), sorted(['created', -1]));
        assertError(await list('sort=password'), 400, 'request.invalid');
      });

      test('fields selects the fields (space- or comma-separated); the ids always come', async () => {
        for (const fields of ['username email', 'username,email']) {
          const response = await list(`fields=${encodeURIComponent(fields)}`);
          assert.equal(response.status, 200, response.text);
          for (const user of response.body.results) assert.deepEqual(Object.keys(user).sort(), ['_id', 'email', 'id', 'username']);
        }
        const one = await api('GET', `/api/systemusers/${people.ada?.id}?fields=activated`);
        assert.deepEqual(one.body, { _id: people.ada?.id, id: people.ada?.id, activated: true });
        const unknownField = await list('fields=username%20department');
        assert.deepEqual(Object.keys(unknownField.body.results[0]).sort(), ['_id', 'id', 'username'], 'a field Gatehouse lacks is simply absent');
      });

      test('every filter operator, on text, booleans, the state and the creation time, against the directory', async () => {
        const users = await everyone();
        const expect = (predicate: (u: Record<string, unknown>) => boolean) => users.filter(predicate).map((u) => u.id);
        const filter = (text: string) => list(`filter=${encodeURIComponent(text)}`);
        const pivot = 'Liskov';
        assert.deepEqual(ids(await filter(`lastname:$eq:${pivot}`)), expect((u) => u.lastname === pivot));
        assert.deepEqual(ids(await filter(`lastname:$ne:${pivot}`)), expect((u) => u.lastname !== pivot));
        assert.deepEqual(ids(await filter(`lastname:$gt:${pivot}`)), expect((u) => (u.lastname as string) > pivot));
        assert.deepEqual(ids(await filter(`lastname:$gte:${pivot}`)), expect((u) => (u.lastname as string) >= pivot));
        assert.deepEqual(ids(await filter(`lastname:$lt:${pivot}`)), expect((u) => (u.lastname as string) < pivot));
        assert.deepEqual(ids(await filter(`lastname:$lte:${pivot}`)), expect((u) => (u.lastname as string) <= pivot));
        assert.ok(ids(await filter(`lastname:$gt:${pivot}`)).length > 1 && ids(await filter(`lastname:$lt:${pivot}`)).length > 1);

        for (const field of ['activated', 'suspended', 'account_locked']) {
          for (const value of [true, false]) {
            assert.deepEqual(ids(await filter(`${field}:$eq:${value}`)), expect((u) => u[field] === value), `${field} = ${value}`);
            assert.deepEqual(ids(await filter(`${field}:$ne:${value}`)), expect((u) => u[field] !== value), `${field} != ${value}`);
          }
        }
        assert.deepEqual(ids(await filter('activated:$gt:false')), expect((u) => u.activated === true), 'false < true');
        for (const state of ['STAGED', 'ACTIVATED', 'SUSPENDED']) assert.deepEqual(ids(await filter(`state:$eq:${state}`)), expect((u) => u.state === state));

        const middle = users[Math.floor(users.length / 2)] as Record<string, unknown>;
        const created = middle.created as string;
        assert.deepEqual(ids(await filter(`created:$gte:${created}`)), expect((u) => (u.created as string) >= created));
        assert.deepEqual(ids(await filter(`created:$lt:${created}`)), expect((u) => (u.created as string) < created));
        assert.deepEqual(ids(await filter('created:$gte:2000-01-01')), users.map((u) => u.id), 'a date alone is midnight UTC');
        assert.deepEqual(ids(await filter(`id:$eq:${people.ada?.id}`)), [people.ada?.id]);
        assert.deepEqual(ids(await filter(`_id:$eq:${people.ada?.id}`)), [people.ada?.id]);
        assert.deepEqual(ids(await filter('displayname:$eq:Amazing: Grace')), [people.grace?.id], 'the value may hold colons');
        assert.deepEqual(ids(await filter('displayname:$eq:')), expect((u) => u.displayname === ''), 'an empty value');
      });

      test('filters are exact and case-sensitive, as JumpCloud says', async () => {
        const filter = (text: string) => list(`filter=${encodeURIComponent(text)}`);
        assert.deepEqual(ids(await filter('email:$eq:Grace@Hopper.test')), [people.grace?.id]);
        assert.deepEqual(ids(await filter('email:$eq:grace@hopper.test')), []);
        assert.deepEqual(ids(await filter('username:$eq:alan')), []);
        assert.deepEqual(ids(await filter('username:$eq:Alan')), [people.Alan?.id]);
        assert.deepEqual(ids(await filter('username:$eq:al')), [], 'no partial match');
        assert.deepEqual(ids(await filter('username:$eq:%')), [], 'no wildcards');
        assert.deepEqual(ids(await filter('firstname:$eq:grace')), [people.grace?.id]);
      });

      test('an email with a + is found whether the client encoded the + or not', async () => {
        const user = await gatehouse.directory.users.create({ username: unique('plus'), email: `first+tag${unique('')}@example.test` });
        assert.deepEqual(ids(await list(`filter=${encodeURIComponent(`email:$eq:${user.email}`)}`)), [user.id]);
        assert.deepEqual(ids(await list(`filter=email:$eq:${user.email}`)), [user.id], 'a raw + arrives as a space');
      });

      test('several filters are ANDed (repeated, or filter[N]); filter[or][N] are ORed', async () => {
        const users = await everyone();
        const expect = (predicate: (u: Record<string, unknown>) => boolean) => users.filter(predicate).map((u) => u.id);
        const q = (pairs: [string, string][]) => list(pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));
        const activeAndAfterK = expect((u) => u.activated === true && (u.lastname as string) > 'K');
        assert.ok(activeAndAfterK.length >= 2);
        assert.deepEqual(ids(await q([['filter', 'activated:$eq:true'], ['filter', 'lastname:$gt:K']])), activeAndAfterK);
        assert.deepEqual(ids(await q([['filter[0]', 'activated:$eq:true'], ['filter[1]', 'lastname:$gt:K']])), activeAndAfterK);
        assert.deepEqual(ids(await q([['filter[0]', 'activated:$eq:true'], ['filter[1]', 'lastname:$gt:K'], ['filter[2]', 'account_locked:$eq:false']])), expect((u) => u.activated === true && (u.lastname as string) > 'K' && u.account_locked === false));
        assert.deepEqual(ids(await q([['filter[or][0]', 'username:$eq:ada'], ['filter[or][1]', 'username:$eq:grace']])), expect((u) => u.username === 'ada' || u.username === 'grace'));
        assert.deepEqual(
          ids(await q([['filter[or][0]', 'state:$eq:SUSPENDED'], ['filter[or][1]', 'account_locked:$eq:true'], ['filter', 'activated:$eq:true']])),
          expect((u) => (u.state === 'SUSPENDED' || u.account_locked === true) && u.activated === true),
          'ORed group ANDed with the rest',
        );
        const response = await q([['filter', 'activated:$eq:true'], ['filter', 'lastname:$gt:K']]);
        assert.equal(response.body.totalCount, activeAndAfterK.length, 'totalCount counts the matches');
      });

      test('a malformed filter is 400 naming the problem (never ignored)', async () => {
        for (const text of ['username:eq:ada', 'username', 'password:$eq:x', 'username:$like:ada', 'activated:$eq:yes', 'created:$gt:yesterday', 'username:$eq:a\u0000b']) {
          const response = await list(`filter=${encodeURIComponent(text)}`);
          assertError(response, 400);
          assert.ok(['request.invalid', 'user.invalid_filter'].includes(response.body.code), response.text);
        }
        assertError(await list(`${encodeURIComponent('filter[or][0]')}=bad`), 400);
      });
    });

    describe('single system users', () => {
      test('GET by id; 404 for an unknown one', async () => {
        const response = await api('GET', `/api/systemusers/${people.ada?.id}`);
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(Object.keys(response.body).sort(), [...SYSTEM_USER_FIELDS].sort());
        assert.equal(response.body.email, 'ada@lovelace.test');
        assertError(await api('GET', '/api/systemusers/0123456789abcdef01234567'), 404, 'user.not_found');
      });

      test('POST creates (ACTIVATED by default, STAGED on request), with attributes and an optional password; audited', async () => {
        const username = unique('new');
        const created = await api('POST', '/api/systemusers', {
          username,
          email: `${username}@example.test`,
          firstname: 'New',
          lastname: 'Person',
          middlename: '',
          displayname: 'New P',
          password: password(),
          attributes: [{ name: 'costCenter', value: '42' }],
          password_expired: false,
        });
        assert.equal(created.status, 200, created.text);
        assert.deepEqual(Object.keys(created.body).sort(), [...SYSTEM_USER_FIELDS].sort());
        assert.deepEqual(
          [created.body.username, created.body.firstname, created.body.state, created.body.activated, created.body.attributes],
          [username, 'New', 'ACTIVATED', true, [{ name: 'costCenter', value: '42' }]],
        );
        assert.equal((await gatehouse.directory.users.get(created.body.id)).attributes.costCenter, '42');
        await assertAudited('user.create', created.body.id);

        const stagedName = unique('staged');
        const staged = await api('POST', '/api/systemusers', { username: stagedName, email: `${stagedName}@example.test`, state: 'STAGED' });
        assert.equal(staged.status, 200, staged.text);
        assert.deepEqual([staged.body.state, staged.body.activated], ['STAGED', false]);
      });

      test('POST refuses what it cannot honour: unknown fields, a middle name, duplicates, bad values', async () => {
        const name = unique('bad');
        for (const body of [
          { username: name, email: `${name}@example.test`, department: 'Sales' },
          { username: name, email: `${name}@example.test`, middlename: 'Q' },
          { username: name, email: `${name}@example.test`, state: 'SUSPENDED' },
          { username: name, email: `${name}@example.test`, totp_enabled: true },
          { username: name },
          { username: name, email: `${name}@example.test`, attributes: [{ name: 'a', value: '1' }, { name: 'a', value: '2' }] },
        ]) {
          assertError(await api('POST', '/api/systemusers', body), 400);
        }
        assertError(await api('POST', '/api/systemusers', { username: 'ADA', email: 'someone@example.test' }), 409, 'user.username_taken');
        assertError(await api('POST', '/api/systemusers', { username: name, email: 'ada@lovelace.test' }), 409, 'user.email_taken');
      });

      test('PUT changes profile fields (only those sent); audited as user.update with the fields', async () => {
        const user = await gatehouse.directory.users.create({ username: unique('put'), email: `${unique('put')}@example.test`, firstname: 'Old', lastname: 'Name' });
        const response = await api('PUT', `/api/systemusers/${user.id}`, { firstname: 'Fresh', displayname: 'Fresh Name', attributes: [{ name: 'team', value: 'blue' }] });
        assert.equal(response.status, 200, response.text);
        assert.deepEqual([response.body.firstname, response.body.lastname, response.body.displayname], ['Fresh', 'Name', 'Fresh Name']);
        assert.deepEqual(response.body.attributes, [{ name: 'team', value: 'blue' }]);
        await assertAudited('user.update', user.id, { fields: ['firstname', 'displayname', 'attributes'] });
        assertError(await api('PUT', `/api/systemusers/${user.id}`, {}), 400);
        assertError(await api('PUT', `/api/systemusers/${user.id}`, { id: user.id }), 400);
        assertError(await api('PUT', `/api/systemusers/${user.id}`, { email: 'ada@lovelace.test' }), 409, 'user.email_taken');
        assertError(await api('PUT', '/api/systemusers/0123456789abcdef01234567', { firstname: 'x' }), 404, 'user.not_found');
      });

      test('PUT suspended: true suspends, false reactivates; account_locked: false unlocks; each audited', async () => {
        const user = await gatehouse.directory.users.create({ username: unique('state'), email: `${unique('state')}@example.test`, password: password() });
        const suspended = await api('PUT', `/api/systemusers/${user.id}`, { suspended: true });
        assert.deepEqual([suspended.status, suspended.body.state, suspended.body.suspended, suspended.body.activated], [200, 'SUSPENDED', true, true]);
        await assertAudited('user.suspend', user.id);
        const again = await api('PUT', `/api/systemusers/${user.id}`, { suspended: true });
        assert.equal(again.body.state, 'SUSPENDED');
        assert.equal((await auditOf('user.suspend', user.id)).length, 1, 'no change, no event');
        const back = await api('PUT', `/api/systemusers/${user.id}`, { suspended: false });
        assert.deepEqual([back.body.state, back.body.suspended], ['ACTIVATED', false]);
        await assertAudited('user.activate', user.id);

        await lock(user);
        const unlocked = await api('PUT', `/api/systemusers/${user.id}`, { account_locked: false });
        assert.equal(unlocked.status, 200, unlocked.text);
        assert.equal(unlocked.body.account_locked, false);
        assert.equal((await gatehouse.directory.users.get(user.id)).account_locked, false);
        await assertAudited('user.unlock', user.id);
        assertError(await api('PUT', `/api/systemusers/${user.id}`, { account_locked: true }), 400);

        const staged = await gatehouse.directory.users.create({ username: unique('stg'), email: `${unique('stg')}@example.test`, state: 'STAGED' });
        const activated = await api('PUT', `/api/systemusers/${staged.id}`, { state: 'ACTIVATED' });
        assert.equal(activated.body.state, 'ACTIVATED');
        assertError(await api('PUT', `/api/systemusers/${staged.id}`, { state: 'STAGED' }), 400);
        assertError(await api('PUT', `/api/systemusers/${staged.id}`, { suspended: true, state: 'ACTIVATED' }), 400);
      });

      test('PUT with several changes applies them together and audits each under its own action', async () => {
        const user = await gatehouse.directory.users.create({ username: unique('multi'), email: `${unique('multi')}@example.test` });
        const response = await api('PUT', `/api/systemusers/${user.id}`, { lastname: 'Changed', suspended: true, password: password() });
        assert.equal(response.status, 200, response.text);
        assert.deepEqual([response.body.lastname, response.body.state, response.body.activated], ['Changed', 'SUSPENDED', true]);
        await assertAudited('user.update', user.id, { fields: ['lastname'] });
        await assertAudited('user.set_password', user.id);
        await assertAudited('user.suspend', user.id);
        const short = await api('PUT', `/api/systemusers/${user.id}`, { firstname: 'Never', password: 'x' });
        assertError(short, 400, 'user.password_too_short');
        assert.equal((await gatehouse.directory.users.get(user.id)).firstname, '', 'nothing applied when one change fails');
      });

      test('a help desk may suspend and unlock through PUT, but not change the profile', async () => {
        const user = await gatehouse.directory.users.create({ username: unique('hd'), email: `${unique('hd')}@example.test` });
        const suspended = await api('PUT', `/api/systemusers/${user.id}`, { suspended: true }, helpdeskKey);
        assert.equal(suspended.status, 200, suspended.text);
        assertError(await api('PUT', `/api/systemusers/${user.id}`, { firstname: 'No' }, helpdeskKey), 403, 'auth.forbidden');
        assertError(await api('PUT', `/api/systemusers/${user.id}`, { firstname: 'No', suspended: false }, helpdeskKey), 403, 'auth.forbidden');
        assertError(await api('POST', '/api/systemusers', { username: unique('hd'), email: `${unique('hd')}@example.test` }, helpdeskKey), 403, 'auth.forbidden');
      });

      test('DELETE removes the user and returns it; never your own account; audited', async () => {
        const user = await gatehouse.directory.users.create({ username: unique('del'), email: `${unique('del')}@example.test` });
        const response = await api('DELETE', `/api/systemusers/${user.id}`);
        assert.equal(response.status, 200, response.text);
        assert.equal(response.body.id, user.id);
        assert.equal(response.body.username, user.username);
        assertError(await api('GET', `/api/systemusers/${user.id}`), 404, 'user.not_found');
        assertError(await api('DELETE', `/api/systemusers/${user.id}`), 404, 'user.not_found');
        await assertAudited('user.delete', user.id);
        assertError(await api('DELETE', `/api/systemusers/${admin.user.id}`), 409, 'user.self_delete');
      });
    });

    describe('read-only keys', () => {
      test('read freely but every write is 403, and nothing changes', async () => {
        const group = await gatehouse.directory.groups.create(unique('ro-group'));
        const { app } = await gatehouse.directory.apps.create({ label: unique('ro-app'), redirect_uris: ['https://rp.example.test/cb'] });
        const id = people.ada?.id as string;
        for (const [method, path] of [
          ['GET', '/api/systemusers'],
          ['GET', `/api/systemusers/${id}`],
          ['GET', '/api/v2/usergroups'],
          ['GET', `/api/v2/usergroups/${group.id}`],
          ['GET', `/api/v2/usergroups/${group.id}/members`],
          ['GET', `/api/v2/usergroups/${group.id}/associations?targets=application`],
          ['GET', `/api/v2/users/${id}/memberof`],
        ] as const) {
          assert.equal((await api(method, path, undefined, readOnlyKey)).status, 200, path);
        }
        for (const [method, path, body] of [
          ['POST', '/api/systemusers', { username: unique('ro'), email: `${unique('ro')}@example.test` }],
          ['PUT', `/api/systemusers/${id}`, { firstname: 'Changed' }],
          ['PUT', `/api/systemusers/${id}`, { suspended: true }],
          ['DELETE', `/api/systemusers/${id}`, undefined],
          ['POST', '/api/v2/usergroups', { name: unique('ro') }],
          ['PUT', `/api/v2/usergroups/${group.id}`, { name: unique('ro') }],
          ['PATCH', `/api/v2/usergroups/${group.id}`, { description: 'x' }],
          ['DELETE', `/api/v2/usergroups/${group.id}`, undefined],
          ['POST', `/api/v2/usergroups/${group.id}/members`, { op: 'add', type: 'user', id }],
          ['POST', `/api/v2/usergroups/${group.id}/associations`, { op: 'add', type: 'application', id: app.id }],
        ] as const) {
          const response = await api(method, path, body, readOnlyKey);
          assertError(response, 403, 'auth.forbidden');
          assert.match(response.body.message, /read-only/);
        }
        const ada = await gatehouse.directory.users.get(id);
        assert.deepEqual([ada.firstname, ada.state], ['Ada', 'ACTIVATED']);
        assert.deepEqual(await gatehouse.directory.groups.memberIds(group.id), []);
        assert.equal((await gatehouse.directory.groups.get(group.id)).name, group.name);
      });
    });

    describe('/v2/usergroups', () => {
      const groupNames = ['Alpha', 'beta', 'Gamma', 'delta', 'Epsilon', 'zeta', 'Eta', 'theta', 'Iota', 'kappa', 'Lambda', 'mu'];
      before(async () => {
        for (const name of groupNames) await gatehouse.directory.groups.create(`jc-${name}`, `The ${name} team`);
      });

      test('a bare array of groups in the JumpCloud shape; limit 10 by default, at most 100; x-total-count', async () => {
        const all = await gatehouse.directory.groups.list();
        const first = await api('GET', '/api/v2/usergroups');
        assert.equal(first.status, 200, first.text);
        assert.ok(Array.isArray(first.body));
        assert.equal(first.body.length, 10);
        assert.equal(first.headers.get('x-total-count'), String(all.length));
        for (const group of first.body) {
          assert.deepEqual(Object.keys(group).sort(), [...GROUP_FIELDS].sort());
          assert.equal(group.type, 'user_group');
          assert.deepEqual(group.attributes, {});
        }
        const builtin = first.body.find((g: Json) => g.name === 'All Users');
        assert.equal(builtin?.membershipMethod, 'DYNAMIC_AUTOMATED');
        const walked: string[] = [];
        for (let skip = 0; ; skip += 5) {
          const page = await api('GET', `/api/v2/usergroups?limit=5&skip=${skip}`);
          if (page.body.length === 0) break;
          walked.push(...page.body.map((g: Json) => g.id));
        }
        assert.deepEqual(walked, all.map((g) => g.id), 'by name');
        assert.equal((await api('GET', '/api/v2/usergroups?limit=100')).status, 200);
        assertError(await api('GET', '/api/v2/usergroups?limit=101'), 400, 'request.invalid');
        assertError(await api('GET', '/api/v2/usergroups?limit=0'), 400, 'request.invalid');
      });

      test('filter name with eq ne gt ge lt le in search; several ANDed; sort; fields', async () => {
        const names = async (query: string) => {
          const response = await api('GET', `/api/v2/usergroups?limit=100&${query}`);
          assert.equal(response.status, 200, response.text);
          return response.body.map((g: Json) => g.name);
        };
        const all: string[] = await names('');
        const f = (text: string) => `filter=${encodeURIComponent(text)}`;
        assert.deepEqual(await names(f('name:eq:jc-Gamma')), ['jc-Gamma']);
        assert.deepEqual(await names(f('name:eq:jc-gamma')), [], 'case-sensitive');
        assert.deepEqual(await names(f('name:ne:jc-Gamma')), all.filter((n) => n !== 'jc-Gamma'));
        assert.deepEqual(await names(f('name:gt:jc-a')), all.filter((n) => n > 'jc-a'));
        assert.deepEqual(await names(f('name:ge:jc-beta')), all.filter((n) => n >= 'jc-beta'));
        assert.deepEqual(await names(f('name:lt:jc-a')), all.filter((n) => n < 'jc-a'));
        assert.deepEqual(await names(f('name:le:jc-Eta')), all.filter((n) => n <= 'jc-Eta'));
        assert.deepEqual((await names(f('name:in:jc-mu|jc-Eta|nope'))).sort(), ['jc-Eta', 'jc-mu']);
        assert.deepEqual((await names(f('name:search:ETA'))).sort(), ['jc-Eta', 'jc-beta', 'jc-theta', 'jc-zeta']);
        assert.deepEqual(await names(`${f('name:search:eta')}&${f('name:ne:jc-zeta')}`), all.filter((n) => /eta/i.test(n) && n !== 'jc-zeta'));
        assert.deepEqual(await names(`${f('description:eq:The mu team')}`), ['jc-mu']);
        assert.deepEqual(await names('sort=-name'), [...all].sort().reverse());
        const fields = await api('GET', '/api/v2/usergroups?fields=name');
        for (const group of fields.body) assert.deepEqual(Object.keys(group).sort(), ['id', 'name']);
        for (const bad of ['name:like:x', 'colour:eq:red', 'name']) assertError(await api('GET', `/api/v2/usergroups?${f(bad)}`), 400);
        assertError(await api('GET', '/api/v2/usergroups?sort=colour'), 400);
      });

      test('POST creates (201), GET reads, PUT renames, PATCH describes, DELETE returns the group; each audited', async () => {
        const name = unique('jc-new-');
        const created = await api('POST', '/api/v2/usergroups', { name, description: 'Fresh' });
        assert.equal(created.status, 201, created.text);
        assert.deepEqual(Object.keys(created.body).sort(), [...GROUP_FIELDS].sort());
        assert.deepEqual([created.body.name, created.body.description, created.body.type, created.body.membershipMethod], [name, 'Fresh', 'user_group', 'STATIC']);
        await assertAudited('group.create', created.body.id);
        const id = created.body.id;
        assert.equal((await api('GET', `/api/v2/usergroups/${id}`)).body.name, name);
        assertError(await api('POST', '/api/v2/usergroups', { name }), 409, 'group.name_taken');
        assertError(await api('POST', '/api/v2/usergroups', { name: unique('x'), attributes: { sudo: { enabled: true } } }), 400);

        const renamed = await api('PUT', `/api/v2/usergroups/${id}`, { name: `${name}-renamed` });
        assert.deepEqual([renamed.status, renamed.body.name, renamed.body.description], [200, `${name}-renamed`, 'Fresh']);
        await assertAudited('group.update', id, { fields: ['name'] });
        assertError(await api('PUT', `/api/v2/usergroups/${id}`, { description: 'no name' }), 400, 'request.invalid');
        const described = await api('PATCH', `/api/v2/usergroups/${id}`, { description: 'Described' });
        assert.deepEqual([described.body.name, described.body.description], [`${name}-renamed`, 'Described']);

        const deleted = await api('DELETE', `/api/v2/usergroups/${id}`);
        assert.deepEqual([deleted.status, deleted.body.id, deleted.body.name], [200, id, `${name}-renamed`]);
        await assertAudited('group.delete', id);
        assertError(await api('GET', `/api/v2/usergroups/${id}`), 404, 'group.not_found');
      });

      test('the built-in All Users group keeps its name and cannot be deleted or changed by hand', async () => {
        const builtin = (await gatehouse.directory.groups.list()).find((g) => g.builtin);
        assert.ok(builtin);
        assertError(await api('PUT', `/api/v2/usergroups/${builtin.id}`, { name: 'Everybody' }), 409, 'group.builtin');
        assertError(await api('DELETE', `/api/v2/usergroups/${builtin.id}`), 409, 'group.builtin');
        assertError(await api('POST', `/api/v2/usergroups/${builtin.id}/members`, { op: 'add', type: 'user', id: people.ada?.id }), 409, 'group.builtin');
      });
    });

    describe('members, memberof and associations', () => {
      test('POST members add/remove (204, audited); GET members lists { to: { id, type: user } }, paged by 10', async () => {
        const group = await gatehouse.directory.groups.create(unique('jc-members-'));
        const users = await Promise.all(Array.from({ length: 12 }, () => gatehouse.directory.users.create({ username: unique('m'), email: `${unique('m')}@example.test` })));
        for (const user of users) {
          const response = await api('POST', `/api/v2/usergroups/${group.id}/members`, { op: 'add', type: 'user', id: user.id, attributes: null });
          assert.equal(response.status, 204, response.text);
          assert.equal(response.text, '');
        }
        const again = await api('POST', `/api/v2/usergroups/${group.id}/members`, { op: 'add', type: 'user', id: users[0]?.id });
        assert.equal(again.status, 204, 'adding twice is harmless');
        const added = (await gatehouse.directory.audit.list({ action: 'group.add_member', target: group.id })).events;
        assert.ok(added.some((e) => (e.details.user as { id: string }).id === users[1]?.id && e.outcome === 'success' && e.actor.id === admin.apiKey.id));

        const first = await api('GET', `/api/v2/usergroups/${group.id}/members`);
        assert.equal(first.status, 200, first.text);
        assert.equal(first.body.length, 10);
        assert.equal(first.headers.get('x-total-count'), '12');
        for (const entry of first.body) assert.deepEqual(Object.keys(entry).sort(), ['attributes', 'to']);
        assert.deepEqual(first.body[0], { to: { id: first.body[0].to.id, type: 'user' }, attributes: null });
        const rest = await api('GET', `/api/v2/usergroups/${group.id}/members?limit=10&skip=10`);
        const listed = [...first.body, ...rest.body].map((e: Json) => e.to.id);
        assert.deepEqual([...listed].sort(), users.map((u) => u.id).sort());
        assertError(await api('GET', `/api/v2/usergroups/${group.id}/members?limit=101`), 400);

        const removed = await api('POST', `/api/v2/usergroups/${group.id}/members`, { op: 'remove', type: 'user', id: users[0]?.id });
        assert.equal(removed.status, 204, removed.text);
        assert.equal((await gatehouse.directory.groups.memberIds(group.id)).length, 11);
        assert.ok((await auditOf('group.remove_member', group.id)).some((e) => e.outcome === 'success'));
        assertError(await api('POST', `/api/v2/usergroups/${group.id}/members`, { op: 'remove', type: 'user', id: users[0]?.id }), 404, 'group.not_a_member');
        assertError(await api('POST', `/api/v2/usergroups/${group.id}/members`, { op: 'add', type: 'system', id: users[0]?.id }), 400);
        assertError(await api('POST', `/api/v2/usergroups/${group.id}/members`, { op: 'add', type: 'user', id: '0123456789abcdef01234567' }), 404, 'user.not_found');
      });

      test('All Users lists every user', async () => {
        const builtin = (await gatehouse.directory.groups.list()).find((g) => g.builtin);
        const members: string[] = [];
        for (let skip = 0; ; skip += 100) {
          const page = await api('GET', `/api/v2/usergroups/${builtin?.id}/members?limit=100&skip=${skip}`);
          if (page.body.length === 0) break;
          members.push(...page.body.map((e: Json) => e.to.id));
        }
        assert.deepEqual(members.sort(), (await gatehouse.directory.users.list()).map((u) => u.id).sort());
      });

      test('memberof: each group with its name in compiledAttributes.ldapGroups and a path', async () => {
        const user = await gatehouse.directory.users.create({ username: unique('mo'), email: `${unique('mo')}@example.test` });
        const groups = [await gatehouse.directory.groups.create(unique('jc-mo-a-')), await gatehouse.directory.groups.create(unique('jc-mo-b-'))];
        for (const group of groups) await gatehouse.directory.groups.addMember(group.id, user.id);
        const response = await api('GET', `/api/v2/users/${user.id}/memberof`);
        assert.equal(response.status, 200, response.text);
        const expected = await gatehouse.directory.groups.groupsOf(user.id);
        assert.equal(expected.length, 3, 'the two groups and All Users');
        assert.deepEqual(
          response.body,
          expected.map((g) => ({ id: g.id, type: 'user_group', compiledAttributes: { ldapGroups: [{ name: g.name }] }, paths: [[{ to: { id: g.id, type: 'user_group' }, attributes: null }]] })),
        );
        assert.deepEqual((await api('GET', `/api/v2/users/${user.id}/memberof?limit=1&skip=1`)).body.map((g: Json) => g.id), [expected[1]?.id]);
        assertError(await api('GET', '/api/v2/users/0123456789abcdef01234567/memberof'), 404, 'user.not_found');
      });

      test('associations: bind and unbind an app (204, audited as app.bind / app.unbind), list with targets=application', async () => {
        const group = await gatehouse.directory.groups.create(unique('jc-assoc-'));
        const { app } = await gatehouse.directory.apps.create({ label: unique('JC App '), redirect_uris: ['https://rp.example.test/cb'] });
        const path = `/api/v2/usergroups/${group.id}/associations`;
        assert.deepEqual((await api('GET', `${path}?targets=application`)).body, []);
        const bound = await api('POST', path, { op: 'add', type: 'application', id: app.id });
        assert.equal(bound.status, 204, bound.text);
        assert.deepEqual((await gatehouse.directory.apps.boundGroups(app.id)).map((g) => g.id), [group.id]);
        const listed = await api('GET', `${path}?targets=application`);
        assert.deepEqual(listed.body, [{ to: { id: app.id, type: 'application' }, attributes: null }]);
        assert.deepEqual((await api('GET', `${path}?targets=system`)).body, [], 'kinds Gatehouse lacks list empty');
        const binds = (await auditOf('app.bind', app.id)).filter((e) => e.outcome === 'success');
        assert.equal(binds.length, 1);
        assert.deepEqual(binds[0]?.details, { group: { id: group.id, name: group.name } });

        const unbound = await api('POST', path, { op: 'remove', type: 'application', id: app.id });
        assert.equal(unbound.status, 204, unbound.text);
        assert.deepEqual(await gatehouse.directory.apps.boundGroups(app.id), []);
        assert.ok((await auditOf('app.unbind', app.id)).some((e) => e.outcome === 'success'));
        assertError(await api('POST', path, { op: 'remove', type: 'application', id: app.id }), 404, 'app.not_bound');
        assertError(await api('GET', path), 400, 'request.invalid');
        assertError(await api('GET', `${path}?targets=spaceship`), 400, 'request.invalid');
        assertError(await api('POST', path, { op: 'add', type: 'system', id: app.id }), 400, 'request.invalid');
      });
    });

    test('hostile input is 400, never a 5xx: NUL characters anywhere, a skip beyond any integer', async () => {
      const group = await gatehouse.directory.groups.create(unique('jc-nul-'));
      for (const [method, path, body] of [
        ['GET', '/api/systemusers/a%00b', undefined],
        ['PUT', '/api/systemusers/a%00b', { firstname: 'x' }],
        ['DELETE', '/api/systemusers/a%00b', undefined],
        ['GET', `/api/systemusers?filter=${encodeURIComponent('email:$eq:a\u0000b')}`, undefined],
        ['POST', '/api/systemusers', { username: unique('nul'), email: 'a\u0000b@example.test' }],
        ['POST', '/api/systemusers', { username: unique('nul'), email: `${unique('nul')}@example.test`, attributes: [{ name: 'x', value: 'a\u0000b' }] }],
        ['GET', '/api/v2/usergroups/a%00b', undefined],
        ['GET', '/api/v2/usergroups/a%00b/members', undefined],
        ['GET', '/api/v2/users/a%00b/memberof', undefined],
        ['GET', `/api/v2/usergroups?filter=${encodeURIComponent('name:eq:a\u0000b')}`, undefined],
        ['POST', '/api/v2/usergroups', { name: 'a\u0000b' }],
        ['PATCH', `/api/v2/usergroups/${group.id}`, { description: 'a\u0000b' }],
        ['POST', `/api/v2/usergroups/${group.id}/members`, { op: 'add', type: 'user', id: 'a\u0000b' }],
        ['POST', `/api/v2/usergroups/${group.id}/associations`, { op: 'add', type: 'application', id: 'a\u0000b' }],
        ['GET', '/api/systemusers?skip=99999999999999999999', undefined],
        ['GET', '/api/v2/usergroups?skip=99999999999999999999', undefined],
      ] as const) {
        assertError(await api(method, path, body), 400, 'request.invalid');
      }
      assert.equal((await gatehouse.directory.groups.get(group.id)).description, '');
    });

    test('every route is documented in /api/openapi.json under the JumpCloud-compatible tag', async () => {
      const response = await call<Json>(gatehouse, 'GET', '/api/openapi.json');
      assert.equal(response.status, 200);
      const expected: Record<string, string[]> = {
        '/api/systemusers': ['get', 'post'],
        '/api/systemusers/{id}': ['delete', 'get', 'put'],
        '/api/v2/usergroups': ['get', 'post'],
        '/api/v2/usergroups/{id}': ['delete', 'get', 'patch', 'put'],
        '/api/v2/usergroups/{id}/members': ['get', 'post'],
        '/api/v2/usergroups/{id}/associations': ['get', 'post'],
        '/api/v2/users/{id}/memberof': ['get'],
      };
      for (const [path, methods] of Object.entries(expected)) {
        const item = response.body.paths[path];
        assert.ok(item, `${path} is documented`);
        assert.deepEqual(Object.keys(item).sort(), methods);
        for (const method of methods) {
          assert.deepEqual(item[method].tags, ['JumpCloud-compatible']);
          assert.ok(item[method].summary, `${method} ${path} has a summary`);
          assert.ok(item[method].responses['200'] || item[method].responses['201'] || item[method].responses['204']);
        }
      }
    });
  });
}
