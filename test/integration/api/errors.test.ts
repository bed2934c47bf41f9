/**
 * How the API fails: every error is `{ code, message, details? }` (JSON, a stable dotted code, the
 * right status), validation errors name the offending field, and no malformed request, however
 * broken, gets a 5xx or a glimpse of the internals.
 *
 * The authenticator answers 429 to failed authentications past 30 per address per minute
 * (api-auth.ts), while a valid key is always served; all requests here come from 127.0.0.1: the main
 * server's cases stay well under that, and the limit itself is tested on a server of its own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type ApiResponse, type CallOptions, adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
type AnyResponse = ApiResponse<any>;

const FAILED_AUTH_LIMIT = 30;

let sequence = 0;
const unique = (prefix: string) => `${prefix}${++sequence}${randomBytes(3).toString('hex')}`;

/** The documented error shape, and nothing that betrays the implementation. */
function assertErrorShape(response: AnyResponse, label = ''): void {
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `${label} JSON: ${response.text.slice(0, 200)}`);
  const body = response.body as Record<string, unknown>;
  assert.equal(typeof body, 'object', `${label} an object: ${response.text.slice(0, 200)}`);
  for (const key of Object.keys(body)) assert.ok(['code', 'message', 'details'].includes(key), `${label} only code, message, details: ${response.text.slice(0, 300)}`);
  assert.match(String(body.code), /^[a-z_]+(\.[a-z_]+)+$/, `${label} a dotted code: ${response.text.slice(0, 200)}`);
  assert.equal(typeof body.message, 'string');
  if (body.details !== undefined) {
    assert.ok(Array.isArray(body.details));
    for (const detail of body.details as Record<string, unknown>[]) {
      assert.deepEqual(Object.keys(detail).sort(), ['message', 'path']);
      assert.equal(typeof detail.path, 'string');
      assert.equal(typeof detail.message, 'string');
    }
  }
  assert.doesNotMatch(response.text, /node_modules|\bat \S+ \(|\.ts:\d+|stack|sqlite|postgres|SELECT |INSERT |kysely/i, `${label} no internals`);
}

function assertError(response: AnyResponse, status: number, code: string, label = ''): void {
  assert.equal(response.status, status, `${label} expected ${status} ${code}, got ${response.status}: ${response.text.slice(0, 300)}`);
  assertErrorShape(response, label);
  assert.equal(response.body.code, code, label);
}

/** The last segment of each detail's path: the field it names. */
const fieldsNamed = (response: AnyResponse) => ((response.body.details ?? []) as { path: string }[]).map((d) => d.path.split('.').at(-1));

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  raw?: CallOptions['raw'];
  /** Without the API key (counts against the failed-authentication limit). */
  anonymous?: boolean;
  /** Where the outcome is fixed: the status and code. Otherwise any 4xx with the error shape. */
  expect?: { status: number; code?: string };
  /** A 2xx is an acceptable answer too (a search for something nobody has). */
  mayPass?: boolean;
}

const json = (data: string | Uint8Array): NonNullable<CallOptions['raw']> => ({ contentType: 'application/json', data });

/** Malformed requests of every kind. None may get a 5xx. `USER` is replaced by an existing user's id. */
const MALFORMED: Case[] = [
  { name: 'truncated JSON', method: 'POST', path: '/api/users', raw: json('{"username":"a"'), expect: { status: 400, code: 'request.bad' } },
  { name: 'not JSON at all', method: 'POST', path: '/api/users', raw: json('username=a'), expect: { status: 400, code: 'request.bad' } },
  { name: 'a JSON array', method: 'POST', path: '/api/users', raw: json('[]'), expect: { status: 400, code: 'request.invalid' } },
  { name: 'JSON null', method: 'POST', path: '/api/users', raw: json('null'), expect: { status: 400 } },
  { name: 'a JSON string', method: 'POST', path: '/api/users', raw: json('"hello"'), expect: { status: 400, code: 'request.invalid' } },
  { name: 'a JSON number', method: 'PATCH', path: '/api/users/USER', raw: json('42'), expect: { status: 400, code: 'request.invalid' } },
  { name: 'an empty JSON body', method: 'POST', path: '/api/users', raw: json(''), expect: { status: 400, code: 'request.bad' } },
  { name: 'a __proto__ key', method: 'POST', path: '/api/users', raw: json('{"__proto__":{"role":"administrator"},"username":"proto","email":"proto@example.com"}'), expect: { status: 400 } },
  { name: 'a constructor.prototype key', method: 'PATCH', path: '/api/users/USER', raw: json('{"constructor":{"prototype":{"x":1}}}'), expect: { status: 400 } },
  { name: 'invalid UTF-8', method: 'POST', path: '/api/users', raw: json(new Uint8Array([0x7b, 0x22, 0x75, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), expect: { status: 400 } },
  { name: 'arrays nested 30000 deep', method: 'POST', path: '/api/users', raw: json(`${'['.repeat(30_000)}${']'.repeat(30_000)}`), expect: { status: 400 } },
  { name: 'objects nested 10000 deep', method: 'PATCH', path: '/api/users/USER', raw: json(`${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`), expect: { status: 400 } },
  { name: 'multipart form data', method: 'POST', path: '/api/users', raw: { contentType: 'multipart/form-data; boundary=x', data: '--x\r\n\r\n--x--' }, expect: { status: 415, code: 'request.unsupported_media_type' } },
  { name: 'an object for the username', method: 'POST', path: '/api/users', body: { username: { $gt: '' }, email: 'obj@example.com' }, expect: { status: 400, code: 'request.invalid' } },
  { name: 'a number for the role', method: 'PUT', path: '/api/users/USER/role', body: { role: 3 }, expect: { status: 400, code: 'request.invalid' } },
  { name: 'an unknown role', method: 'PUT', path: '/api/users/USER/role', body: { role: 'root' }, expect: { status: 400, code: 'request.invalid' } },
  { name: 'a nested attribute value', method: 'PATCH', path: '/api/users/USER', body: { attributes: { a: { b: 'c' } } }, expect: { status: 400, code: 'request.invalid' } },
  { name: '101 attributes', method: 'PATCH', path: '/api/users/USER', body: { attributes: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`a${i}`, 'x'])) }, expect: { status: 400, code: 'request.invalid' } },
  { name: 'an attribute value of 1025 characters', method: 'PATCH', path: '/api/users/USER', body: { attributes: { a: 'x'.repeat(1025) } }, expect: { status: 400, code: 'request.invalid' } },
  { name: 'a password of 1025 characters', method: 'PUT', path: '/api/users/USER/password', body: { password: 'p'.repeat(1025) }, expect: { status: 400, code: 'request.invalid' } },
  { name: 'a NUL in an email', method: 'POST', path: '/api/users', body: { username: 'nulmail', email: 'nul\u0000mail@example.com' }, expect: { status: 400 } },
  { name: 'a NUL in a first name', method: 'POST', path: '/api/users', body: { username: 'nulname', email: 'nulname@example.com', firstname: 'A\u0000' }, expect: { status: 400 } },
  { name: 'a NUL in a changed last name', method: 'PATCH', path: '/api/users/USER', body: { lastname: 'B\u0000' }, expect: { status: 400 } },
  { name: 'a NUL in a user reference', method: 'GET', path: '/api/users/a%00b' },
  { name: 'a NUL in a search', method: 'GET', path: '/api/users?search=a%00b', mayPass: true },
  { name: 'a search of 201 characters', method: 'GET', path: `/api/users?search=${'s'.repeat(201)}`, expect: { status: 400, code: 'request.invalid' } },
  { name: 'an offset beyond any integer column', method: 'GET', path: '/api/users?offset=99999999999999999999', expect: { status: 400, code: 'request.invalid' } },
  { name: 'a repeated limit', method: 'GET', path: '/api/users?limit=1&limit=2', expect: { status: 400, code: 'request.invalid' } },
  { name: 'an empty limit', method: 'GET', path: '/api/users?limit=' },
  { name: 'an unknown query parameter', method: 'GET', path: '/api/users?sort=-username', expect: { status: 400, code: 'request.invalid' } },
  { name: 'broken percent-encoding in the path', method: 'GET', path: '/api/users/%E0%A4%A', expect: { status: 400 } },
  { name: 'a path parameter over 200 characters', method: 'GET', path: `/api/users/${'a'.repeat(250)}` },
  { name: 'an encoded slash in a user reference', method: 'GET', path: '/api/users/..%2F..%2Fsettings', expect: { status: 404, code: 'user.not_found' } },
  { name: 'an unsupported method on a known path', method: 'PUT', path: '/api/users', body: {}, expect: { status: 404, code: 'route.not_found' } },
  { name: 'OPTIONS', method: 'OPTIONS', path: '/api/users/USER', expect: { status: 404, code: 'route.not_found' } },
  { name: 'a body on DELETE of an unknown user', method: 'DELETE', path: '/api/users/nobody-at-all', body: { force: true } },
  { name: 'no key, and a bad body', method: 'POST', path: '/api/users', body: { nope: true }, anonymous: true },
];

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`API errors (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let admin: Awaited<ReturnType<typeof adminKey>>;
    let userId: string;
    const api = (method: string, path: string, body?: unknown, options: CallOptions = {}) => call(gatehouse, method, path, body, { key: admin.key, ...options });

    before(async () => {
      gatehouse = await startGatehouse(kind);
      admin = await adminKey(gatehouse, 'administrator_with_billing');
      userId = (await gatehouse.directory.users.create({ username: 'ann', email: 'ann@example.com' })).id;
    });
    after(() => gatehouse?.close());

    describe('400: validation names the fields', () => {
      test('missing required fields are each named', async () => {
        const response = await api('POST', '/api/users', {});
        assertError(response, 400, 'request.invalid');
        assert.deepEqual(fieldsNamed(response).sort(), ['email', 'username']);
      });

      test('an unknown field is named, and called unknown', async () => {
        const response = await api('POST', '/api/users', { username: 'x1', email: 'x1@example.com', nickname: 'X' });
        assertError(response, 400, 'request.invalid');
        assert.deepEqual(fieldsNamed(response), ['nickname']);
        assert.match(response.body.details[0].message, /unknown field nickname/);
      });

      test('every problem at once, with the part of the request it is in', async () => {
        const response = await api('POST', '/api/users', { username: '', email: 'x', state: 'GONE', extra: 1 });
        assertError(response, 400, 'request.invalid');
        const paths = (response.body.details as { path: string }[]).map((d) => d.path);
        for (const field of ['username', 'email', 'state', 'extra']) assert.ok(paths.some((p) => p.split('.').at(-1) === field), `${field} in ${paths.join(', ')}`);
        const query = await api('GET', '/api/users?limit=0&offset=-2');
        assert.deepEqual((query.body.details as { path: string }[]).map((d) => d.path).sort(), ['querystring.limit', 'querystring.offset']);
        const nested = await api('PATCH', `/api/users/${userId}`, { attributes: { team: ['a', 'b'] } });
        assertError(nested, 400, 'request.invalid');
        assert.deepEqual(fieldsNamed(nested), ['team']);
      });

      test('rules checked by the directory name the field too', async () => {
        for (const [body, code, field] of [
          [{ username: 'has space', email: 'hs@example.com' }, 'user.invalid_username', 'username'],
          [{ username: 'bademail', email: 'not-an-email' }, 'user.invalid_email', 'email'],
          [{ username: 'shortpw', email: 'shortpw@example.com', password: 'short' }, 'user.password_too_short', 'password'],
          [{ username: 'badattr', email: 'badattr@example.com', attributes: { '9lives': 'x' } }, 'user.invalid_attribute', '9lives'],
        ] as const) {
          const response = await api('POST', '/api/users', body);
          assertError(response, 400, code);
          assert.deepEqual(fieldsNamed(response), [field]);
        }
      });

      test('malformed JSON is 400 request.bad', async () => {
        assertError(await api('POST', '/api/users', undefined, { raw: json('{"username": "x",}') }), 400, 'request.bad');
      });
    });

    describe('401: no usable key', () => {
      test('no key at all: 401 with a WWW-Authenticate challenge', async () => {
        const response = await call(gatehouse, 'GET', '/api/users');
        assertError(response, 401, 'auth.invalid_credentials');
        assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
        assert.match(response.body.message, /x-api-key|Bearer/);
      });

      test('malformed keys, in either header', async () => {
        for (const headers of [
          { 'x-api-key': 'not-a-key' },
          { 'x-api-key': 'gh_' },
          { 'x-api-key': `gh_${'A'.repeat(400)}` },
          { authorization: 'Bearer not-a-key' },
          { authorization: 'Bearer ' },
          { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
          { authorization: admin.key },
        ]) {
          const response = await call(gatehouse, 'GET', '/api/users', undefined, { headers });
          assertError(response, 401, 'auth.invalid_credentials', JSON.stringify(headers).slice(0, 60));
          assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
        }
      });

      test('a well-formed but unknown key, and a revoked one', async () => {
        const unknown = `gh_${randomBytes(32).toString('base64url')}`;
        assertError(await call(gatehouse, 'GET', '/api/users', undefined, { key: unknown }), 401, 'auth.invalid_credentials');
        const revoked = await adminKey(gatehouse, 'administrator');
        assert.equal((await call(gatehouse, 'GET', '/api/users', undefined, { key: revoked.key })).status, 200);
        await gatehouse.directory.apiKeys.revoke(revoked.apiKey.id);
        const response = await call(gatehouse, 'GET', '/api/users', undefined, { key: revoked.key, bearer: true });
        assertError(response, 401, 'auth.invalid_credentials');
        assert.match(response.body.message, /unknown, revoked or expired/);
      });

      test('the same key works in x-api-key and as a Bearer token', async () => {
        assert.equal((await api('GET', '/api/users')).status, 200);
        assert.equal((await api('GET', '/api/users', undefined, { bearer: true })).status, 200);
        assert.equal((await call(gatehouse, 'GET', '/api/users', undefined, { headers: { authorization: `bearer ${admin.key}` } })).status, 200, 'the scheme is case-insensitive');
      });

      test('an unauthenticated request is 401 even when its body is invalid (authentication comes before validation)', async () => {
        assertError(await call(gatehouse, 'POST', '/api/users', { nope: true }), 401, 'auth.invalid_credentials');
        assertError(await call(gatehouse, 'GET', '/api/users?limit=0'), 401, 'auth.invalid_credentials');
      });
    });

    test('403: a role that may not', async () => {
      const { key } = await adminKey(gatehouse, 'read_only');
      const response = await call(gatehouse, 'POST', '/api/users', { username: 'nope403', email: 'nope403@example.com' }, { key });
      assertError(response, 403, 'auth.forbidden');
      assert.match(response.body.message, /read_only/);
      assert.equal(response.headers.get('www-authenticate'), null, 'no challenge: the key was fine');
    });

    test('404: unknown routes under /api, with or without a key, and unknown users', async () => {
      for (const path of ['/api/nothing', '/api/users/x/y/z', '/api', '/api/v9/users']) {
        const response = await api('GET', path);
        assertError(response, 404, 'route.not_found', path);
        assert.equal(response.body.message, `No route GET ${path}.`);
      }
      assertError(await call(gatehouse, 'DELETE', '/api/nothing?x=1'), 404, 'route.not_found');
      assertError(await api('GET', '/api/users/nobody'), 404, 'user.not_found');
    });

    test('409: a conflict', async () => {
      assertError(await api('POST', '/api/users', { username: 'ann', email: 'other-ann@example.com' }), 409, 'user.username_taken');
      assertError(await api('DELETE', `/api/users/${admin.user.id}`), 409, 'user.self_delete');
    });

    test('413: a body over the limit (100 KB of JSON)', async () => {
      const big = JSON.stringify({ username: 'big', email: 'big@example.com', attributes: { blob: 'x'.repeat(100 * 1024) } });
      assertError(await api('POST', '/api/users', undefined, { raw: json(big) }), 413, 'request.too_large');
      assertError(await api('PATCH', `/api/users/${userId}`, undefined, { raw: json(big) }), 413, 'request.too_large');
      assertError(await api('GET', '/api/users/big'), 404, 'user.not_found');
    });

    test('415: a body that is not JSON (text/plain, a form) on POST /api/users', async () => {
      const text = await api('POST', '/api/users', undefined, { raw: { contentType: 'text/plain', data: '{"username":"plain","email":"plain@example.com"}' } });
      assertError(text, 415, 'request.unsupported_media_type', 'text/plain');
      const form = await api('POST', '/api/users', undefined, { raw: { contentType: 'application/x-www-form-urlencoded', data: 'username=formy&email=formy%40example.com' } });
      assertError(form, 415, 'request.unsupported_media_type', 'form');
      for (const name of ['plain', 'formy']) assertError(await api('GET', `/api/users/${name}`), 404, 'user.not_found', `${name} was not created`);
    });

    describe(`never a 5xx: ${MALFORMED.length} malformed requests`, () => {
      for (const c of MALFORMED) {
        test(`${c.name}: ${c.method} ${c.path.slice(0, 50)}`, async () => {
          const path = c.path.replace('USER', userId);
          const body = c.body && JSON.parse(JSON.stringify(c.body).replaceAll('USER', userId));
          const response = await call(gatehouse, c.method, path, body, { ...(c.anonymous ? {} : { key: admin.key }), ...(c.raw ? { raw: c.raw } : {}) });
          assert.ok(response.status < 500, `never a 5xx, got ${response.status}: ${response.text.slice(0, 300)}`);
          if (c.mayPass && response.status < 300) return;
          assert.ok(response.status >= 400, `a 4xx, got ${response.status}: ${response.text.slice(0, 300)}`);
          assertErrorShape(response);
          if (c.expect) assertError(response, c.expect.status, c.expect.code ?? response.body.code);
        });
      }

      test('huge numbers in every documented integer query parameter of every list (limit, offset, skip…) are 400', async () => {
        const doc = (await call(gatehouse, 'GET', '/api/openapi.json')).body as {
          paths: Record<string, { get?: { parameters?: { in: string; name: string; schema?: { type?: string } }[] } }>;
        };
        const failures: string[] = [];
        let tried = 0;
        for (const [path, item] of Object.entries(doc.paths)) {
          if (path.includes('{')) continue;
          for (const parameter of item.get?.parameters ?? []) {
            if (parameter.in !== 'query' || !['integer', 'number'].includes(parameter.schema?.type ?? '')) continue;
            for (const value of ['99999999999999999999', '-99999999999999999999', '1e400']) {
              tried += 1;
              const response = await api('GET', `${path}?${parameter.name}=${value}`);
              if (response.status !== 400) failures.push(`${path}?${parameter.name}=${value} → ${response.status} ${response.text.slice(0, 80)}`);
              else assertErrorShape(response);
            }
          }
        }
        assert.ok(tried >= 6, 'at least the users paging parameters');
        assert.deepEqual(failures, []);
      });

      test('and the server is still fine afterwards', async () => {
        const response = await api('GET', `/api/users/${userId}`);
        assert.equal(response.status, 200);
        assert.equal(response.body.username, 'ann');
        assert.equal(response.body.role, null, 'no __proto__ trick gave anyone a role');
        assert.equal(({} as Record<string, unknown>).role, undefined, 'Object.prototype untouched');
      });
    });
  });

  describe(`API failed-authentication limit (${kind}, a server of its own)`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let key: string;
    before(async () => {
      gatehouse = await startGatehouse(kind);
      ({ key } = await adminKey(gatehouse, 'administrator'));
    });
    after(() => gatehouse?.close());

    test(`after ${FAILED_AUTH_LIMIT} failed authentications from an address, 429 for its bad keys, while a valid key is served`, async () => {
      // Successes do not count.
      for (let i = 0; i < FAILED_AUTH_LIMIT + 5; i++) assert.equal((await call(gatehouse, 'GET', '/api/users?limit=1', undefined, { key })).status, 200);
      for (let i = 1; i <= FAILED_AUTH_LIMIT; i++) {
        const response = await call(gatehouse, 'GET', '/api/users', undefined, i % 2 ? { key: `gh_${randomBytes(32).toString('base64url')}` } : {});
        assertError(response, 401, 'auth.invalid_credentials', `failure ${i}`);
      }
      const limited = await call(gatehouse, 'GET', '/api/users', undefined, { key: `gh_${randomBytes(32).toString('base64url')}` });
      assertError(limited, 429, 'request.rate_limited');
      assert.equal(limited.headers.get('retry-after'), '60', 'a 429 says when to try again');
      assert.match(limited.body.message, /Too many failed authentications/);
      assertError(await call(gatehouse, 'GET', '/api/users'), 429, 'request.rate_limited');
      // Others' failures at the same address (a NAT, a proxy) never refuse a valid key.
      assert.equal((await call(gatehouse, 'GET', '/api/users', undefined, { key })).status, 200);
      const created = await call(gatehouse, 'POST', '/api/users', { username: unique('late'), email: `${unique('late')}@example.com` }, { key });
      assert.equal(created.status, 201, created.text);
      // ... nor stops the flood: the next bad key is still refused with 429.
      assertError(await call(gatehouse, 'GET', '/api/users', undefined, { key: `gh_${randomBytes(32).toString('base64url')}` }), 429, 'request.rate_limited');
      // Requests that never reach authentication are unaffected.
      assert.equal((await call(gatehouse, 'GET', '/api/openapi.json')).status, 200);
      assertError(await call(gatehouse, 'GET', '/api/nothing'), 404, 'route.not_found');
    });
  });
}
