/**
 * Ids and names in the URL come from anyone: a NUL byte, another control character, an over-long
 * segment or bytes that are not UTF-8 must be refused at the edge, with the API's `{code, message}`,
 * never reach the database (PostgreSQL refuses a NUL in text and answered 500). Every parametrised
 * route is taken from the server's own route table, so a route added later is covered without
 * being listed here; query-string values that reach SQL (search, filters) are taken from the
 * OpenAPI document the same way.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApp } from '../../../src/http/app.ts';
import { type ApiResponse, adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
type AnyResponse = ApiResponse<any>;

/** Path segments no id or name can be: already percent-encoded, as a client would send them. */
const BAD_SEGMENTS = [
  '%00',
  'a%00b',
  '%01',
  '%09',
  '%0A',
  '%0D',
  '%1B',
  '%1F',
  '%7F',
  '%C2%80',
  '%C2%9F',
  'x'.repeat(300),
  '%C0%AF',
  '%C0%80',
  '%FF',
  '%ED%A0%80',
  '%E0%80%80',
  '%',
];

interface RouteEntry {
  method: string;
  path: string;
}

/** The routes of the real app, read from Fastify's printed route tree (one tree per method). */
async function apiRoutes(gatehouse: TestGatehouse): Promise<RouteEntry[]> {
  const app = await buildApp(gatehouse.runtime, { logLevel: 'silent', keyPollIntervalMs: 60_000 });
  try {
    await app.ready();
    const routes: RouteEntry[] = [];
    for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
      const stack: string[] = [];
      for (const line of app.printRoutes({ method, commonPrefix: false }).split('\n')) {
        const match = line.match(/^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?/);
        if (!match) continue;
        const depth = (match[1] ?? '').length / 4;
        stack.length = depth;
        stack.push(match[2] ?? '');
        const methods = (match[3] ?? '').split(', ');
        if (methods.includes(method)) routes.push({ method, path: stack.join('') });
      }
    }
    return routes.filter((route) => route.path.startsWith('/api/'));
  } finally {
    await app.close();
  }
}

function assertRefusedCleanly(response: AnyResponse, label: string): void {
  assert.ok(response.status < 500, `${label}: ${response.status} ${response.text.slice(0, 300)}`);
  assert.ok(response.status >= 400, `${label}: refused, not ${response.status}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `${label}: JSON`);
  assert.match(String(response.body?.code), /^[a-z_]+(\.[a-z_]+)+$/, `${label}: a dotted code: ${response.text.slice(0, 200)}`);
  assert.equal(typeof response.body?.message, 'string', label);
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`path and query parameters from anyone (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let key: string;
    let routes: RouteEntry[];

    before(async () => {
      gatehouse = await startGatehouse(kind);
      ({ key } = await adminKey(gatehouse, 'administrator_with_billing'));
      routes = await apiRoutes(gatehouse);
    });
    after(() => gatehouse.close());

    test('the route table is read (and holds the routes the fuzzing run found)', () => {
      const parametrised = routes.filter((route) => route.path.includes(':'));
      assert.ok(parametrised.length >= 30, `parametrised routes: ${parametrised.length}`);
      for (const expected of ['GET /api/apps/:id', 'GET /api/groups/:id', 'GET /api/groups/:id/members', 'DELETE /api/apps/:id', 'PUT /api/groups/:id/members/:userId', 'GET /api/systemusers/:id', 'GET /api/v2/usergroups/:id']) {
        assert.ok(
          routes.some((route) => `${route.method} ${route.path}` === expected),
          `${expected} in ${routes.map((r) => `${r.method} ${r.path}`).join(', ')}`,
        );
      }
    });

    test('every parametrised route refuses a control character, an over-long or a non-UTF-8 segment without a 5xx', async () => {
      const failures: string[] = [];
      for (const route of routes.filter((r) => r.path.includes(':'))) {
        const params = route.path.match(/:\w+/g) ?? [];
        for (const bad of BAD_SEGMENTS) {
          // Each parameter bad in turn (the others plausible), and all of them bad at once.
          const variants = [...params.map((param) => [param]), params];
          for (const badParams of variants) {
            let path = route.path;
            for (const param of params) path = path.replace(param, badParams.includes(param) ? bad : 'someone');
            const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;
            const response = await call(gatehouse, route.method, path, body, { key });
            try {
              assertRefusedCleanly(response, `${route.method} ${path.slice(0, 120)}`);
            } catch (error) {
              failures.push((error as Error).message);
            }
          }
        }
      }
      assert.deepEqual(failures, []);
    });

    test('a NUL or control character in a query-string value is refused without a 5xx', async () => {
      const spec = (await call(gatehouse, 'GET', '/api/openapi.json', undefined, { key })).body as {
        paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>>;
      };
      const failures: string[] = [];
      let checked = 0;
      for (const [template, operations] of Object.entries(spec.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          const queries = (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
          for (const name of queries) {
            for (const bad of ['%00', 'a%00b', '%01', '%7F', '%FF', '%C0%AF']) {
              const path = `${template.replace(/\{\w+\}/g, 'someone')}?${name}=${bad}`;
              const response = await call(gatehouse, method.toUpperCase(), path, ['post', 'put', 'patch'].includes(method) ? {} : undefined, { key });
              checked += 1;
              if (response.status >= 500) failures.push(`${method.toUpperCase()} ${path}: ${response.status} ${response.text.slice(0, 200)}`);
            }
          }
        }
      }
      assert.ok(checked >= 30, `query parameters checked: ${checked}`);
      // The JumpCloud filters, which reach SQL as values, by name.
      for (const path of ['/api/systemusers?filter=username:eq:%00', '/api/systemusers?search[fields][]=username&search[searchTerm]=%00', '/api/v2/usergroups?filter=name:eq:%00']) {
        const response = await call(gatehouse, 'GET', path, undefined, { key });
        if (response.status >= 500) failures.push(`GET ${path}: ${response.status} ${response.text.slice(0, 200)}`);
      }
      assert.deepEqual(failures, []);
    });

    test('the refusal: 400 request.invalid naming the parameter, and 401 first for an anonymous caller', async () => {
      for (const path of ['/api/apps/%00', '/api/groups/%00/members', '/api/systemusers/a%0Ab']) {
        const response = await call(gatehouse, 'GET', path, undefined, { key });
        assert.equal(response.status, 400, `${path}: ${response.text}`);
        assert.equal(response.body.code, 'request.invalid');
        assert.deepEqual(response.body.details, [{ path: 'params.id', message: 'must not contain control characters' }]);
      }
      const put = await call(gatehouse, 'PUT', '/api/groups/staff/members/%00', undefined, { key });
      assert.equal(put.status, 400, put.text);
      assert.equal(put.body.details?.[0]?.path, 'params.userId');
      const anonymous = await call(gatehouse, 'GET', '/api/apps/%00');
      assert.equal(anonymous.status, 401, anonymous.text);
    });

    test('a NUL in a JSON body is refused without a 5xx', async () => {
      const group = await gatehouse.directory.groups.create('Body checks');
      const cases: Array<[string, string, unknown]> = [
        ['POST', '/api/groups', { name: 'nul\u0000group' }],
        ['PATCH', `/api/groups/${group.id}`, { description: 'a\u0000b' }],
        ['POST', '/api/users', { username: 'nul\u0000user', email: 'nul@example.com' }],
        ['POST', '/api/users', { username: 'nul-attr', email: 'nul-attr@example.com', firstname: 'a\u0000' }],
        ['POST', '/api/apps', { label: 'nul\u0000app', redirect_uris: ['https://app.example.test/cb'] }],
        ['POST', '/api/systemusers', { username: 'nul\u0000jc', email: 'nul-jc@example.com' }],
        ['POST', '/api/v2/usergroups', { name: 'nul\u0000jc' }],
      ];
      for (const [method, path, body] of cases) {
        const response = await call(gatehouse, method, path, body, { key });
        assertRefusedCleanly(response, `${method} ${path} ${JSON.stringify(body)}`);
      }
    });

    test('an unknown but well-formed id still gets its 404, and a real one is found', async () => {
      const missing = await call(gatehouse, 'GET', '/api/apps/no-such-app', undefined, { key });
      assert.equal(missing.status, 404, missing.text);
      await gatehouse.directory.groups.create('Ops team');
      const found = await call(gatehouse, 'GET', `/api/groups/${encodeURIComponent('Ops team')}`, undefined, { key });
      assert.equal(found.status, 200, found.text);
    });
  });
}
