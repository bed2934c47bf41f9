/**
 * The audit log and settings routes of the directory API (src/http/routes/api/audit.ts, settings.ts),
 * over real HTTP on both databases: who may read them, the audit filters and paging, failures
 * recorded with their reason; who may change settings, validation, the settings.update event, and
 * that a change takes effect (password policy, token lifetimes at the token endpoint).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../../src/directory/audit.ts';
import { ROLES, type Role } from '../../../src/directory/roles.ts';
import { DEFAULT_SETTINGS } from '../../../src/directory/settings.ts';
import { type ApiResponse as Response, adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { PASSWORD, createApp, exchangeOk, obtainCode, shutdown } from '../security/support.ts';

const EVENT_FIELDS = ['id', 'time', 'actor', 'action', 'target', 'source_ip', 'user_agent', 'outcome', 'details'];

/** A response as call() gives it. */
// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
type ApiResponse = Response<any>;

function assertError(response: ApiResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status}: ${response.text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(response.body.code, code, response.text);
  if (message) assert.match(response.body.message, message);
}

let sequence = 0;
const unique = (prefix: string) => `${prefix}${++sequence}${randomBytes(3).toString('hex')}`;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`audit and settings API (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    const admins = {} as Record<Role, Awaited<ReturnType<typeof adminKey>>>;
    const api = (role: Role, method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: admins[role].key });
    const events = async (query: string, role: Role = 'read_only'): Promise<{ data: AuditEvent[]; total: number; limit: number; offset: number }> => {
      const response = await api(role, 'GET', `/api/audit-events${query}`);
      assert.equal(response.status, 200, `${query}: ${response.text}`);
      return response.body;
    };

    before(async () => {
      gatehouse = await startGatehouse(kind);
      for (const role of ROLES) admins[role] = await adminKey(gatehouse, role);
    });
    after(() => shutdown(gatehouse));

    describe('audit events', () => {
      /** Users made by the manager in this describe, in order, with the time just before the first and after the last. */
      const made: { id: string; username: string }[] = [];
      let start = '';
      let middle = '';
      let end = '';

      before(async () => {
        start = new Date().toISOString();
        for (let i = 0; i < 5; i++) {
          if (i === 3) {
            await sleep(5);
            middle = new Date().toISOString();
            await sleep(5);
          }
          const username = unique('audited');
          const response = await api('manager', 'POST', '/api/users', { username, email: `${username}@example.com` });
          assert.equal(response.status, 201, response.text);
          made.push({ id: response.body.id, username });
        }
        const renamed = await api('manager', 'PATCH', `/api/users/${made[0]?.id}`, { firstname: 'Ada', lastname: 'Lovelace' });
        assert.equal(renamed.status, 200, renamed.text);
        // A refusal is recorded too, with its reason.
        assertError(await api('manager', 'POST', '/api/users', { username: made[1]?.username, email: `${unique('dup')}@example.com` }), 409, 'user.username_taken');
        await sleep(5);
        end = new Date().toISOString();
      });

      test('every role reads the log; without a key it is 401', async () => {
        for (const role of ROLES) {
          const page = await events('?limit=1', role);
          assert.equal(page.data.length, 1);
          assert.deepEqual(Object.keys(page.data[0] as object).sort(), [...EVENT_FIELDS].sort());
        }
        const readOnlyKey = await adminKey(gatehouse, 'administrator', { scope: 'read_only' });
        assert.equal((await call(gatehouse, 'GET', '/api/audit-events', undefined, { key: readOnlyKey.key, bearer: true })).status, 200);
        assertError(await call(gatehouse, 'GET', '/api/audit-events'), 401, 'auth.invalid_credentials');
      });

      test('an event says who, what, on what, from where and how it went', async () => {
        const page = await events(`?target=${made[0]?.id}`);
        assert.deepEqual(page.data.map((e) => e.action), ['user.update', 'user.create'], 'newest first');
        const [update, create] = page.data;
        const manager = admins.manager;
        assert.deepEqual(create?.actor, { type: 'api_key', id: manager.apiKey.id, name: `${manager.user.username}/${manager.apiKey.name}` });
        assert.deepEqual(create?.target, { type: 'user', id: made[0]?.id, name: made[0]?.username });
        assert.equal(create?.outcome, 'success');
        assert.equal(create?.source_ip, '127.0.0.1');
        assert.equal(typeof create?.user_agent, 'string');
        assert.deepEqual(update?.details, { fields: ['firstname', 'lastname'] });
        assert.ok(Date.parse(update?.time ?? '') >= Date.parse(create?.time ?? ''));

        const failures = await events(`?action=user.create&target=${made[1]?.username}`);
        const failure = failures.data.find((e) => e.outcome === 'failure');
        assert.ok(failure, 'the refused create is recorded');
        assert.deepEqual(failure.details, { code: 'user.username_taken' });
        assert.equal(failures.total, 2, 'the create and the refused duplicate');
      });

      test('filters: action (exact or prefix.*), actor (id or name), target (id or name), since and until', async () => {
        const manager = admins.manager;
        const byKeyId = await events(`?actor=${manager.apiKey.id}&limit=1000`);
        const byKeyName = await events(`?actor=${encodeURIComponent(`${manager.user.username}/${manager.apiKey.name}`)}&limit=1000`);
        assert.deepEqual(byKeyName.data.map((e) => e.id), byKeyId.data.map((e) => e.id));
        assert.equal(byKeyId.total, 7, 'five creates, one update, one refused create');
        for (const e of byKeyId.data) assert.equal(e.actor.id, manager.apiKey.id);

        const creates = await events(`?action=user.create&actor=${manager.apiKey.id}`);
        assert.equal(creates.total, 6);
        for (const e of creates.data) assert.equal(e.action, 'user.create');
        const userActions = await events(`?action=${encodeURIComponent('user.*')}&actor=${manager.apiKey.id}`);
        assert.equal(userActions.total, 7);
        assert.deepEqual(new Set(userActions.data.map((e) => e.action)), new Set(['user.create', 'user.update']));
        assert.equal((await events(`?action=${encodeURIComponent('group.*')}&actor=${manager.apiKey.id}`)).total, 0);
        assert.equal((await events('?action=user')).total, 0, 'an exact action matches only itself');

        assert.equal((await events(`?target=${made[2]?.username}`)).total, 1);
        assert.equal((await events(`?target=${made[2]?.id}`)).data[0]?.target?.name, made[2]?.username);

        const window = await events(`?since=${start}&until=${end}&actor=${manager.apiKey.id}`);
        assert.equal(window.total, 7);
        const early = await events(`?since=${start}&until=${middle}&action=user.create&actor=${manager.apiKey.id}`);
        assert.deepEqual(early.data.map((e) => e.target?.name), [made[2], made[1], made[0]].map((u) => u?.username), 'the first three, newest first');
        const late = await events(`?since=${middle}&action=user.create&actor=${manager.apiKey.id}`);
        assert.equal(late.total, 3, 'the last two creates and the refused one');
        assert.equal((await events(`?until=${start}&actor=${manager.apiKey.id}`)).total, 0);
        // Any ISO 8601 form, normalised.
        assert.equal((await events(`?since=${encodeURIComponent(new Date(Date.parse(start)).toISOString().replace('Z', '+00:00'))}&actor=${manager.apiKey.id}`)).total, 7);
      });

      test('paging: newest first, limit and offset, a total that counts every match', async () => {
        const all = await events('?limit=1000');
        assert.equal(all.limit, 1000);
        assert.equal(all.offset, 0);
        assert.equal(all.data.length, all.total);
        const times = all.data.map((e) => e.time);
        assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
        const pages: AuditEvent[] = [];
        for (let offset = 0; offset < all.total; offset += 3) {
          const page = await events(`?limit=3&offset=${offset}`);
          assert.equal(page.total, all.total);
          assert.equal(page.limit, 3);
          assert.equal(page.offset, offset);
          pages.push(...page.data);
        }
        assert.deepEqual(pages.map((e) => e.id), all.data.map((e) => e.id), 'the pages add up to the whole, without overlap');
        assert.deepEqual((await events(`?offset=${all.total}`)).data, []);
        assert.equal((await events('')).limit, 100, 'default limit');
      });

      test('bad queries are 400', async () => {
        const bad: [string, string][] = [
          ['?limit=0', 'request.invalid'],
          ['?limit=1001', 'request.invalid'],
          ['?offset=-1', 'request.invalid'],
          ['?since=yesterday', 'audit.invalid_time'],
          ['?until=2024-13-45T00:00:00Z', 'audit.invalid_time'],
          ['?action=user.**', 'request.invalid'],
          ['?action=*', 'request.invalid'],
          ['?verb=user.create', 'request.invalid'],
        ];
        for (const [query, code] of bad) assertError(await api('read_only', 'GET', `/api/audit-events${query}`), 400, code);
      });
    });

    describe('settings', () => {
      test('only an administrator with billing reads and changes them (a read_only key of theirs only reads)', async () => {
        const response = await api('administrator_with_billing', 'GET', '/api/settings');
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(response.body, DEFAULT_SETTINGS);
        for (const role of ['administrator', 'manager', 'help_desk', 'read_only'] as const) {
          assertError(await api(role, 'GET', '/api/settings'), 403, 'auth.forbidden', new RegExp(`The role ${role} does not allow this`));
          assertError(await api(role, 'PATCH', '/api/settings', { organisation_name: 'Hijacked' }), 403, 'auth.forbidden');
        }
        const readOnly = await adminKey(gatehouse, 'administrator_with_billing', { scope: 'read_only' });
        assert.equal((await call(gatehouse, 'GET', '/api/settings', undefined, { key: readOnly.key })).status, 200);
        assertError(await call(gatehouse, 'PATCH', '/api/settings', { organisation_name: 'Hijacked' }, { key: readOnly.key }), 403, 'auth.forbidden', /read-only/);
        assert.equal((await gatehouse.directory.settings.get()).organisation_name, DEFAULT_SETTINGS.organisation_name);
      });

      test('bad changes are refused with the field named, and change nothing', async () => {
        const cases: [unknown, string][] = [
          [{}, 'body'],
          [{ colour: 'blue' }, 'colour'],
          [{ organisation_name: '' }, 'organisation_name'],
          [{ organisation_name: 'x'.repeat(129) }, 'organisation_name'],
          [{ organisation_name: '   ' }, 'organisation_name'],
          [{ access_token_ttl: 59 }, 'access_token_ttl'],
          [{ id_token_ttl: 24 * 3600 + 1 }, 'id_token_ttl'],
          [{ session_ttl: 1.5 }, 'session_ttl'],
          [{ password_min_length: 7 }, 'password_min_length'],
          [{ password_min_length: 'long' }, 'password_min_length'],
          [{ access_token_ttl: 600, password_min_length: 200 }, 'password_min_length'],
        ];
        for (const [body, path] of cases) {
          const response = await api('administrator_with_billing', 'PATCH', '/api/settings', body);
          assert.equal(response.status, 400, `${JSON.stringify(body)}: ${response.text}`);
          assert.ok(response.body.details?.some((d: { path: string }) => d.path === path) || (path === 'body' && response.body.code === 'request.invalid'), `${JSON.stringify(body)}: ${response.text}`);
        }
        assert.deepEqual(await gatehouse.directory.settings.get(), DEFAULT_SETTINGS);
      });

      test('a change is returned, kept, audited with the fields it changed, and takes effect', async () => {
        const response = await api('administrator_with_billing', 'PATCH', '/api/settings', { organisation_name: ' Acme Corp ', password_min_length: 14, session_ttl: DEFAULT_SETTINGS.session_ttl });
        assert.equal(response.status, 200, response.text);
        assert.deepEqual(response.body, { ...DEFAULT_SETTINGS, organisation_name: 'Acme Corp', password_min_length: 14 });
        assert.deepEqual((await api('administrator_with_billing', 'GET', '/api/settings')).body, response.body);

        const [event] = (await events('?action=settings.update&limit=1')).data;
        assert.equal(event?.actor.id, admins.administrator_with_billing.apiKey.id);
        assert.deepEqual(event?.target, { type: 'settings', id: null, name: 'organisation' });
        assert.deepEqual(event?.details, {
          fields: ['organisation_name', 'password_min_length'],
          changes: { organisation_name: { from: 'Gatehouse', to: 'Acme Corp' }, password_min_length: { from: 12, to: 14 } },
        });

        // The password policy applies to the next password set.
        const username = unique('policy');
        const short = await api('manager', 'POST', '/api/users', { username, email: `${username}@example.com`, password: 'thirteen-char' });
        assertError(short, 400, 'user.password_too_short', /14 characters/);
        const ok = await api('manager', 'POST', '/api/users', { username, email: `${username}@example.com`, password: 'fourteen-chars' });
        assert.equal(ok.status, 201, ok.text);
      });

      test('token lifetimes follow the settings at the token endpoint within about a second', async () => {
        // src/http/app.ts rebuilds the provider when settings.version() changes (the test servers look every 200 ms).
        const username = unique('signer');
        await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD });
        const app = await createApp(gatehouse, { label: unique('ttl-app'), group: 'All Users' });
        const tokensAfter = async (changes: { access_token_ttl: number; id_token_ttl: number }) => {
          const patched = await api('administrator_with_billing', 'PATCH', '/api/settings', changes);
          assert.equal(patched.status, 200, patched.text);
          await sleep(1000);
          const tokens = (await exchangeOk(gatehouse, app, await obtainCode(app, username))) as unknown as { expires_in: number; id_token: string };
          const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1] ?? '', 'base64url').toString()) as { iat: number; exp: number };
          return { accessTtl: tokens.expires_in, idTtl: claims.exp - claims.iat };
        };
        assert.deepEqual(await tokensAfter({ access_token_ttl: 120, id_token_ttl: 600 }), { accessTtl: 120, idTtl: 600 });
        assert.deepEqual(await tokensAfter({ access_token_ttl: 900, id_token_ttl: 300 }), { accessTtl: 900, idTtl: 300 });
      });
    });
  });
}
