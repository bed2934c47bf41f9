/**
 * The security routes of the directory API (src/http/routes/api/security.ts), over real HTTP on both
 * databases: signing keys (list, rotate) and API keys (create, list, revoke), per administrator role
 * and key scope; how a key stops working (revoked, expired, owner suspended or without a role); and
 * that a key is shown once, at creation, and never again: not in lists, not in the audit log.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { ApiKey } from '../../../src/directory/api-keys.ts';
import { ROLES, type Role } from '../../../src/directory/roles.ts';
import { type ApiResponse as Response, adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

const API_KEY_FIELDS = ['id', 'name', 'owner', 'scope', 'prefix', 'expires', 'last_used', 'revoked', 'created'];
const SIGNING_KEY_FIELDS = ['kid', 'alg', 'state', 'created', 'retire_at'];
const SECURITY_ROLES: readonly Role[] = ['administrator_with_billing', 'administrator'];

/** A response as call() gives it. */
// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
type ApiResponse = Response<any>;

function assertError(response: ApiResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status}: ${response.text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(response.body.code, code, response.text);
  assert.equal(typeof response.body.message, 'string');
  if (message) assert.match(response.body.message, message);
}

function assertApiKey(body: unknown): asserts body is ApiKey {
  assert.deepEqual(Object.keys(body as object).sort(), [...API_KEY_FIELDS].sort(), 'an API key has exactly the documented fields (never the key or its hash)');
}

const hashOf = (key: string) => createHash('sha256').update(key).digest('base64url');
let sequence = 0;
const unique = (prefix: string) => `${prefix}${++sequence}${randomBytes(3).toString('hex')}`;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`security API (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    const admins = {} as Record<Role, Awaited<ReturnType<typeof adminKey>>>;
    /** Every key this file sees created: none may show up again anywhere. */
    const issued: string[] = [];
    const api = (role: Role, method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: admins[role].key });
    const assertNoKeys = (text: string, where: string) => {
      for (const key of issued) {
        assert.equal(text.includes(key), false, `a key appears in ${where}`);
        assert.equal(text.includes(hashOf(key)), false, `a key hash appears in ${where}`);
      }
    };

    before(async () => {
      gatehouse = await startGatehouse(kind);
      for (const role of ROLES) {
        admins[role] = await adminKey(gatehouse, role);
        issued.push(admins[role].key);
      }
    });
    after(() => gatehouse?.close());

    describe('signing keys', () => {
      test('every role lists them: public facts only, current first', async () => {
        for (const role of ROLES) {
          const response = await api(role, 'GET', '/api/signing-keys');
          assert.equal(response.status, 200, `${role}: ${response.text}`);
          assert.deepEqual(response.body.map((k: { state: string }) => k.state).slice(0, 2), ['current', 'next']);
          for (const key of response.body) {
            assert.deepEqual(Object.keys(key).sort(), [...SIGNING_KEY_FIELDS].sort());
            assert.equal(key.alg, 'RS256');
          }
          assert.doesNotMatch(response.text, /"(d|p|q|dp|dq|qi|n|e|private_jwk)"/, 'no key material at all');
        }
      });

      test('rotation needs the security permission and a read_write key; it is audited and published', async () => {
        for (const role of ['manager', 'help_desk', 'read_only'] as const) {
          assertError(await api(role, 'POST', '/api/signing-keys/rotate'), 403, 'auth.forbidden', new RegExp(`The role ${role} does not allow this`));
        }
        const readOnly = await adminKey(gatehouse, 'administrator_with_billing', { scope: 'read_only' });
        issued.push(readOnly.key);
        assertError(await call(gatehouse, 'POST', '/api/signing-keys/rotate', undefined, { key: readOnly.key }), 403, 'auth.forbidden', /read-only/);

        for (const role of SECURITY_ROLES) {
          const before = (await api(role, 'GET', '/api/signing-keys')).body as { kid: string; state: string }[];
          const response = await api(role, 'POST', '/api/signing-keys/rotate');
          assert.equal(response.status, 200, response.text);
          const kid = (keys: { kid: string; state: string }[], state: string) => keys.find((k) => k.state === state)?.kid;
          assert.equal(kid(response.body, 'current'), kid(before, 'next'), 'next became current');
          assert.equal(kid(response.body, 'previous'), kid(before, 'current'), 'current became previous');
          assert.ok(response.body.find((k: { state: string }) => k.state === 'previous').retire_at);
          assert.ok(![kid(before, 'current'), kid(before, 'next')].includes(kid(response.body, 'next')), 'a fresh next key');

          const events = await gatehouse.directory.audit.list({ action: 'keys.rotate', actor: admins[role].apiKey.id, limit: 1 });
          assert.equal(events.events[0]?.outcome, 'success');
          assert.equal(events.events[0]?.target?.id, kid(response.body, 'current'));
          assert.equal(events.events[0]?.actor.name, `${admins[role].user.username}/${admins[role].apiKey.name}`);

          // Every server reloads the key set by itself (the test servers look every 200 ms).
          const published = new Set([kid(response.body, 'current'), kid(response.body, 'next')]);
          const deadline = Date.now() + 5000;
          let jwks: string[] = [];
          while (Date.now() < deadline) {
            jwks = ((await call(gatehouse, 'GET', '/.well-known/jwks.json')).body as { keys: { kid: string }[] }).keys.map((k) => k.kid);
            if ([...published].every((k) => k && jwks.includes(k))) break;
            await sleep(100);
          }
          for (const k of published) assert.ok(k && jwks.includes(k), `${k} is published`);
        }
      });
    });

    describe('API keys', () => {
      const create = (role: Role, body: Record<string, unknown>) => api(role, 'POST', '/api/api-keys', body);
      const created = (response: ApiResponse) => {
        assert.equal(response.status, 201, response.text);
        assert.deepEqual(Object.keys(response.body).sort(), ['api_key', 'key']);
        assert.match(response.body.key, /^gh_[A-Za-z0-9_-]{43}$/);
        assertApiKey(response.body.api_key);
        issued.push(response.body.key);
        return response.body as { api_key: ApiKey; key: string };
      };

      test('every role creates its own keys; the key works at once and is shown only then', async () => {
        for (const role of ROLES) {
          const scope = role === 'read_only' ? 'read_only' : 'read_write';
          const { api_key, key } = created(await create(role, { name: `${role} automation`, scope }));
          assert.equal(api_key.owner.id, admins[role].user.id);
          assert.equal(api_key.owner.username, admins[role].user.username);
          assert.equal(api_key.owner.role, role, 'the owner’s role comes with the key');
          assert.equal(api_key.scope, scope);
          assert.equal(api_key.expires, null);
          assert.equal(api_key.revoked, null);
          assert.equal(key.startsWith(api_key.prefix), true, 'the prefix recognises the key');
          assert.ok(api_key.prefix.length < 12);
          const listed = await call(gatehouse, 'GET', '/api/api-keys', undefined, { key });
          assert.equal(listed.status, 200, listed.text);
          assert.ok(listed.body.some((k: ApiKey) => k.id === api_key.id));
        }
        const withExpiry = created(await create('manager', { name: 'expiring', scope: 'read_only', expires: '2999-01-01T00:00:00Z' }));
        assert.equal(withExpiry.api_key.expires, '2999-01-01T00:00:00.000Z');
        assert.equal(withExpiry.api_key.scope, 'read_only');
        const never = created(await create('manager', { name: 'never expiring', scope: 'read_only', expires: null }));
        assert.equal(never.api_key.expires, null, 'an explicit null means it never expires');
      });

      test('bad requests are refused with the field named', async () => {
        const cases: [Record<string, unknown>, string, string?][] = [
          [{ scope: 'read_write' }, 'request.invalid', 'name'],
          [{ name: 'x' }, 'request.invalid', 'scope'],
          [{ name: '', scope: 'read_write' }, 'request.invalid'],
          [{ name: 'x', scope: 'admin' }, 'request.invalid'],
          [{ name: 'x', scope: 'read_write', key: 'gh_mine' }, 'request.invalid', 'key'],
          [{ name: 'x', scope: 'read_write', expires: 'next tuesday' }, 'api_key.invalid_expiry', 'expires'],
          [{ name: 'x', scope: 'read_write', expires: '2001-01-01T00:00:00Z' }, 'api_key.invalid_expiry', 'expires'],
          [{ name: '   ', scope: 'read_write' }, 'api_key.invalid_name', 'name'],
        ];
        for (const [body, code, path] of cases) {
          const response = await create('manager', body);
          assertError(response, 400, code);
          if (path) assert.ok(response.body.details?.some((d: { path: string }) => d.path === path), `${JSON.stringify(body)}: ${response.text}`);
        }
      });

      test("a key never exceeds its owner's role: a read_only owner gets only read_only keys", async () => {
        const response = await create('read_only', { name: 'too much', scope: 'read_write' });
        assertError(response, 400, 'api_key.scope_exceeds_role');
        assert.deepEqual(response.body.details?.map((d: { path: string }) => d.path), ['scope']);
        // Not even through someone who may manage their keys.
        assertError(await create('administrator', { name: 'too much', scope: 'read_write', owner: admins.read_only.user.username }), 400, 'api_key.scope_exceeds_role');
        const readOnly = created(await create('administrator', { name: 'granted', scope: 'read_only', owner: admins.read_only.user.username }));
        assert.equal(readOnly.api_key.owner.id, admins.read_only.user.id);
      });

      test('a read_only key creates and revokes nothing', async () => {
        const readOnly = created(await create('administrator', { name: 'viewer', scope: 'read_only' }));
        const withIt = (method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: readOnly.key });
        assert.equal((await withIt('GET', '/api/api-keys')).status, 200);
        assertError(await withIt('POST', '/api/api-keys', { name: 'escalate', scope: 'read_write' }), 403, 'auth.forbidden', /read-only/);
        assertError(await withIt('DELETE', `/api/api-keys/${readOnly.api_key.id}`), 403, 'auth.forbidden', /read-only/);
        assert.equal((await gatehouse.directory.apiKeys.get(readOnly.api_key.id)).revoked, null);
      });

      test("keys for another administrator need the security permission and a role that covers theirs", async () => {
        const owner = admins.help_desk.user.username;
        for (const role of ['manager', 'help_desk', 'read_only'] as const) {
          assertError(await create(role, { name: 'for someone', scope: 'read_only', owner: admins.administrator.user.id }), 403, 'auth.forbidden');
        }
        for (const role of SECURITY_ROLES) {
          const { api_key } = created(await create(role, { name: `from ${role}`, scope: 'read_write', owner }));
          assert.equal(api_key.owner.id, admins.help_desk.user.id);
        }
        // An administrator cannot mint keys that act as an administrator with billing.
        assertError(await create('administrator', { name: 'takeover', scope: 'read_only', owner: admins.administrator_with_billing.user.id }), 403, 'auth.forbidden');
        // A user without a role could do nothing with a key; an unknown owner is 404.
        const plain = await gatehouse.directory.users.create({ username: unique('plain'), email: `${unique('plain')}@example.com` });
        assertError(await create('administrator', { name: 'useless', scope: 'read_only', owner: plain.id }), 409, 'api_key.owner_not_admin');
        assertError(await create('administrator', { name: 'nobody', scope: 'read_only', owner: 'nobody-at-all' }), 404, 'user.not_found');
      });

      test('lists: your own keys, or with the security permission every key (filter by owner)', async () => {
        const everyone = new Set(Object.values(admins).map((a) => a.user.id));
        for (const role of ['manager', 'help_desk', 'read_only'] as const) {
          const response = await api(role, 'GET', '/api/api-keys');
          assert.equal(response.status, 200, response.text);
          assert.ok(response.body.length >= 1);
          for (const key of response.body) {
            assertApiKey(key);
            assert.equal(key.owner.id, admins[role].user.id, `${role} sees only their own keys`);
          }
          assertNoKeys(response.text, `${role}'s list`);
          assertError(await api(role, 'GET', `/api/api-keys?owner=${admins.administrator.user.id}`), 403, 'auth.forbidden');
          const own = await api(role, 'GET', `/api/api-keys?owner=${admins[role].user.username}`);
          assert.equal(own.status, 200, own.text);
        }
        for (const role of SECURITY_ROLES) {
          const response = await api(role, 'GET', '/api/api-keys');
          assert.equal(response.status, 200, response.text);
          const owners = new Set(response.body.map((k: ApiKey) => k.owner.id));
          for (const id of everyone) assert.ok(owners.has(id), `${role} sees every administrator's keys`);
          const times = response.body.map((k: ApiKey) => k.created);
          assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
          assertNoKeys(response.text, `${role}'s list`);
          const filtered = await api(role, 'GET', `/api/api-keys?owner=${admins.help_desk.user.email}`);
          assert.equal(filtered.status, 200);
          assert.ok(filtered.body.length >= 3);
          for (const key of filtered.body) assert.equal(key.owner.id, admins.help_desk.user.id);
        }
        // Seeing every key is a read: a read_only key of an administrator sees them too.
        const viewer = await adminKey(gatehouse, 'administrator', { scope: 'read_only' });
        issued.push(viewer.key);
        const seen = await call(gatehouse, 'GET', '/api/api-keys', undefined, { key: viewer.key });
        assert.ok(new Set(seen.body.map((k: ApiKey) => k.owner.id)).size >= everyone.size);
        assertError(await api('manager', 'GET', '/api/api-keys?unknown=1'), 400, 'request.invalid');
      });

      test('revoking: your own keys always, others only with the security permission and a role covering theirs; a revoked key is dead', async () => {
        const mine = created(await create('help_desk', { name: 'to revoke', scope: 'read_write' }));
        const theirs = created(await create('manager', { name: 'not yours', scope: 'read_write' }));
        // Someone else's key is not even visible to a role that cannot list it.
        assertError(await api('help_desk', 'DELETE', `/api/api-keys/${theirs.api_key.id}`), 404, 'api_key.not_found');
        assertError(await api('help_desk', 'DELETE', '/api/api-keys/0123456789abcdef01234567'), 404, 'api_key.not_found');

        const revoked = await api('help_desk', 'DELETE', `/api/api-keys/${mine.api_key.id}`);
        assert.equal(revoked.status, 200, revoked.text);
        assertApiKey(revoked.body);
        assert.ok(revoked.body.revoked);
        assertError(await call(gatehouse, 'GET', '/api/api-keys', undefined, { key: mine.key }), 401, 'auth.invalid_credentials');

        // Nobody shuts out a more powerful administrator.
        const bosses = created(await create('administrator_with_billing', { name: 'the boss key', scope: 'read_write' }));
        assertError(await api('administrator', 'DELETE', `/api/api-keys/${bosses.api_key.id}`), 403, 'auth.forbidden', /cannot revoke API keys of an administrator with the role administrator_with_billing/);
        assert.equal((await gatehouse.directory.apiKeys.get(bosses.api_key.id)).revoked, null);

        const byAdmin = await api('administrator', 'DELETE', `/api/api-keys/${theirs.api_key.id}`);
        assert.equal(byAdmin.status, 200, byAdmin.text);
        assert.ok(byAdmin.body.revoked);
        const listed = (await api('manager', 'GET', '/api/api-keys')).body.find((k: ApiKey) => k.id === theirs.api_key.id);
        assert.ok(listed.revoked, 'a revoked key stays listed, as revoked');

        const events = await gatehouse.directory.audit.list({ action: 'api_key.revoke', target: theirs.api_key.id });
        assert.equal(events.total, 1);
        assert.equal(events.events[0]?.actor.id, admins.administrator.apiKey.id);
        assert.deepEqual(events.events[0]?.details, { owner: admins.manager.user.username });
      });
    });

    describe('how a key authenticates and stops working', () => {
      test('x-api-key and Authorization: Bearer work alike; nothing or garbage is 401', async () => {
        const { key } = admins.read_only;
        const viaHeader = await call(gatehouse, 'GET', '/api/signing-keys', undefined, { key });
        const viaBearer = await call(gatehouse, 'GET', '/api/signing-keys', undefined, { key, bearer: true });
        assert.equal(viaHeader.status, 200);
        assert.equal(viaBearer.status, 200);
        assert.deepEqual(viaBearer.body, viaHeader.body);
        const lowercase = await call(gatehouse, 'GET', '/api/signing-keys', undefined, { headers: { authorization: `bearer ${key}` } });
        assert.equal(lowercase.status, 200);
        const none = await call(gatehouse, 'GET', '/api/api-keys');
        assertError(none, 401, 'auth.invalid_credentials');
        assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
        assertError(await call(gatehouse, 'GET', '/api/api-keys', undefined, { key: `gh_${randomBytes(32).toString('base64url')}`, bearer: true }), 401, 'auth.invalid_credentials');
      });

      test('an expired key is 401', async () => {
        const expires = new Date(Date.now() + 1500).toISOString();
        const response = await api('manager', 'POST', '/api/api-keys', { name: 'short-lived', scope: 'read_only', expires });
        assert.equal(response.status, 201, response.text);
        issued.push(response.body.key);
        assert.equal((await call(gatehouse, 'GET', '/api/api-keys', undefined, { key: response.body.key })).status, 200, 'works until it expires');
        await sleep(Math.max(0, Date.parse(expires) - Date.now()) + 50);
        assertError(await call(gatehouse, 'GET', '/api/api-keys', undefined, { key: response.body.key }), 401, 'auth.invalid_credentials');
      });

      test("a suspended owner's keys are 401, and work again once they are active", async () => {
        const owner = await adminKey(gatehouse, 'manager');
        issued.push(owner.key);
        const get = () => call(gatehouse, 'GET', '/api/signing-keys', undefined, { key: owner.key, bearer: true });
        assert.equal((await get()).status, 200);
        assert.equal((await api('administrator', 'POST', `/api/users/${owner.user.id}/suspend`)).status, 200);
        assertError(await get(), 401, 'auth.invalid_credentials');
        assert.equal((await api('administrator', 'POST', `/api/users/${owner.user.id}/activate`)).status, 200);
        assert.equal((await get()).status, 200);
      });

      test("an owner who loses their role loses the API: their keys are 401", async () => {
        const owner = await adminKey(gatehouse, 'help_desk');
        issued.push(owner.key);
        const get = () => call(gatehouse, 'GET', '/api/api-keys', undefined, { key: owner.key });
        assert.equal((await get()).status, 200);
        const removed = await api('administrator', 'PUT', `/api/users/${owner.user.id}/role`, { role: null });
        assert.equal(removed.status, 200, removed.text);
        assertError(await get(), 401, 'auth.invalid_credentials');
        // Giving the role back does not revive the keys: losing the role revoked them.
        const restored = await api('administrator', 'PUT', `/api/users/${owner.user.id}/role`, { role: 'help_desk' });
        assert.equal(restored.status, 200, restored.text);
        assertError(await get(), 401, 'auth.invalid_credentials');
        const [key] = await gatehouse.directory.apiKeys.list({ owner: owner.user.id });
        assert.ok(key?.revoked, 'the key is marked revoked');
      });
    });

    test('the audit log records every key created and revoked, and never a key or its hash', async () => {
      const created = await gatehouse.directory.audit.list({ action: 'api_key.create', limit: 1000 });
      const successes = created.events.filter((e) => e.outcome === 'success');
      assert.ok(successes.length >= 14, `${successes.length} api_key.create events`);
      for (const event of successes) {
        assert.equal(event.actor.type, 'api_key');
        assert.equal(event.target?.type, 'api_key');
        assert.deepEqual(Object.keys(event.details).sort(), ['expires', 'owner', 'scope']);
      }
      const refused = created.events.filter((e) => e.outcome === 'failure').map((e) => e.details['code']);
      assert.ok(refused.includes('api_key.scope_exceeds_role'), 'refusals are recorded with their reason');

      // The whole table, as stored, and the keys' own table: hashes there, never a key.
      const db = gatehouse.runtime.storage.db;
      const dump = JSON.stringify(await db.selectFrom('audit_events').selectAll().execute());
      assertNoKeys(dump, 'the audit_events table');
      const keysTable = JSON.stringify(await db.selectFrom('api_keys').selectAll().execute());
      for (const key of issued) assert.equal(keysTable.includes(key), false, 'a key is stored only as a hash');
      assert.ok(issued.some((key) => keysTable.includes(hashOf(key))), 'the hashes are there');
    });
  });
}
