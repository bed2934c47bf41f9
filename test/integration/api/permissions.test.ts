/**
 * Who may do what through the API: each administrator role against one representative route per
 * permission class (src/directory/roles.ts), a key whose owner lost their role, read-only keys, and
 * actions on administrators more powerful than the caller. 401 means "we don't know who you are"
 * (no key, or a key that no longer works); 403 means "we know, and you may not".
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PERMISSIONS, type Permission, ROLES, type Role, roleAllows } from '../../../src/directory/roles.ts';
import type { User } from '../../../src/directory/users.ts';
import { type ApiResponse, adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
type AnyResponse = ApiResponse<any>;

/** The expected matrix, written out (it is the contract), and checked against roles.ts below. */
const MATRIX: Record<Role, readonly Permission[]> = {
  administrator_with_billing: ['read', 'helpdesk', 'directory', 'security', 'settings'],
  administrator: ['read', 'helpdesk', 'directory', 'security'],
  manager: ['read', 'helpdesk', 'directory'],
  help_desk: ['read', 'helpdesk'],
  read_only: ['read'],
};

let sequence = 0;
const unique = (prefix: string) => `${prefix}${++sequence}${randomBytes(3).toString('hex')}`;

function assertError(response: AnyResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status}: ${response.text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(response.body).sort(), ['code', 'message'], `an error is {code, message}: ${response.text}`);
  assert.equal(response.body.code, code);
  assert.equal(typeof response.body.message, 'string');
  if (message) assert.match(response.body.message, message);
}

interface Probe {
  /** What the route needs. */
  permission: Permission;
  method: string;
  path: string;
  /** The status when allowed. */
  ok: number;
  request(gatehouse: TestGatehouse, key: string): Promise<AnyResponse>;
}

/** A fresh user with no role, to act on. */
async function target(gatehouse: TestGatehouse): Promise<User> {
  const username = unique('target');
  return gatehouse.directory.users.create({ username, email: `${username}@example.com` });
}

/** One representative route per permission class. */
const PROBES: Probe[] = [
  { permission: 'read', method: 'GET', path: '/api/users', ok: 200, request: (g, key) => call(g, 'GET', '/api/users?limit=5', undefined, { key }) },
  {
    permission: 'helpdesk',
    method: 'POST',
    path: '/api/users/:id/unlock',
    ok: 200,
    request: async (g, key) => call(g, 'POST', `/api/users/${(await target(g)).id}/unlock`, undefined, { key }),
  },
  {
    permission: 'directory',
    method: 'POST',
    path: '/api/users',
    ok: 201,
    request: (g, key) => {
      const username = unique('made');
      return call(g, 'POST', '/api/users', { username, email: `${username}@example.com` }, { key });
    },
  },
  {
    permission: 'security',
    method: 'PUT',
    path: '/api/users/:id/role',
    ok: 200,
    request: async (g, key) => call(g, 'PUT', `/api/users/${(await target(g)).id}/role`, { role: 'read_only' }, { key }),
  },
  { permission: 'settings', method: 'GET', path: '/api/settings', ok: 200, request: (g, key) => call(g, 'GET', '/api/settings', undefined, { key }) },
];

/** The settings routes are another engineer's work in progress: a 404 there means "not built yet". */
const notBuiltYet = (probe: Probe, response: AnyResponse) => probe.permission === 'settings' && response.status === 404 && response.body?.code === 'route.not_found';

test('the expected matrix is the one src/directory/roles.ts implements', () => {
  assert.deepEqual([...ROLES].sort(), Object.keys(MATRIX).sort());
  for (const role of ROLES) {
    for (const permission of PERMISSIONS) assert.equal(roleAllows(role, permission), MATRIX[role].includes(permission), `${role} / ${permission}`);
  }
  for (const permission of PERMISSIONS) assert.equal(roleAllows(null, permission), false, `no role / ${permission}`);
});

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`API permissions (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    before(async () => {
      gatehouse = await startGatehouse(kind);
    });
    after(() => gatehouse?.close());

    for (const role of ROLES) {
      describe(`role ${role}`, () => {
        let key: string;
        before(async () => {
          ({ key } = await adminKey(gatehouse, role));
        });

        for (const probe of PROBES) {
          const allowed = MATRIX[role].includes(probe.permission);
          test(`${probe.permission}: ${probe.method} ${probe.path} → ${allowed ? probe.ok : 403}`, async (t) => {
            const response = await probe.request(gatehouse, key);
            if (notBuiltYet(probe, response)) return t.todo('GET /api/settings is not registered yet (another engineer is building it)');
            if (allowed) assert.equal(response.status, probe.ok, response.text);
            else assertError(response, 403, 'auth.forbidden', new RegExp(`The role ${role} does not allow this`));
          });
        }
      });
    }

    describe('a key whose owner lost their role', () => {
      let key: string;
      let owner: User;
      before(async () => {
        // The store refuses keys for owners without a role: give one, make the key, then take the role away.
        ({ key, user: owner } = await adminKey(gatehouse, 'administrator_with_billing'));
        assert.equal((await call(gatehouse, 'GET', '/api/users?limit=1', undefined, { key })).status, 200, 'the key works while its owner has a role');
        const remover = await adminKey(gatehouse, 'administrator_with_billing');
        const removed = await call(gatehouse, 'PUT', `/api/users/${owner.id}/role`, { role: null }, { key: remover.key });
        assert.equal(removed.status, 200, removed.text);
        assert.equal(removed.body.role, null);
      });

      for (const probe of PROBES) {
        test(`${probe.permission}: ${probe.method} ${probe.path} → 401`, async () => {
          const response = await probe.request(gatehouse, key);
          assertError(response, 401, 'auth.invalid_credentials', /no longer use the API/);
          assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="gatehouse"');
        });
      }

      test('the same goes for a suspended owner', async () => {
        const suspended = await adminKey(gatehouse, 'administrator');
        await gatehouse.directory.users.suspend(suspended.user.id);
        assertError(await call(gatehouse, 'GET', '/api/users', undefined, { key: suspended.key }), 401, 'auth.invalid_credentials');
      });
    });

    describe('read_only keys of an administrator', () => {
      let readOnly: Awaited<ReturnType<typeof adminKey>>;
      let victim: User;
      before(async () => {
        readOnly = await adminKey(gatehouse, 'administrator', { scope: 'read_only' });
        victim = await target(gatehouse);
      });
      const get = (path: string) => call(gatehouse, 'GET', path, undefined, { key: readOnly.key });

      test('reads are allowed', async () => {
        for (const path of ['/api/users', `/api/users/${victim.id}`, `/api/users/${victim.username}/groups`, '/api/users?search=target']) {
          const response = await get(path);
          assert.equal(response.status, 200, `${path}: ${response.text}`);
        }
      });

      test('every users write is 403 "read-only" and changes nothing', async () => {
        const username = unique('never');
        const writes: [string, string, unknown][] = [
          ['POST', '/api/users', { username, email: `${username}@example.com` }],
          ['PATCH', `/api/users/${victim.id}`, { firstname: 'Changed' }],
          ['DELETE', `/api/users/${victim.id}`, undefined],
          ['POST', `/api/users/${victim.id}/suspend`, undefined],
          ['POST', `/api/users/${victim.id}/activate`, undefined],
          ['POST', `/api/users/${victim.id}/unlock`, undefined],
          ['PUT', `/api/users/${victim.id}/password`, { password: 'a-long-enough-password' }],
          ['PUT', `/api/users/${victim.id}/role`, { role: 'read_only' }],
        ];
        for (const [method, path, body] of writes) {
          const response = await call(gatehouse, method, path, body, { key: readOnly.key });
          assertError(response, 403, 'auth.forbidden', /read-only/);
        }
        const after = await gatehouse.directory.users.get(victim.id);
        assert.deepEqual(after, victim, 'the user is untouched');
        assert.equal((await get(`/api/users/${username}`)).status, 404, 'nobody was created');
      });

      test('every other documented write is refused too (never 2xx, never 5xx)', async (t) => {
        // Whatever other routes exist when this runs: take them from the OpenAPI document.
        const doc = (await call(gatehouse, 'GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>> };
        const components = (doc as unknown as { components?: { schemas?: Record<string, unknown> } }).components?.schemas ?? {};
        const refused: string[] = [];
        const invalid: string[] = [];
        for (const [path, operations] of Object.entries(doc.paths)) {
          for (const [method, operation] of Object.entries(operations)) {
            if (!['post', 'put', 'patch', 'delete'].includes(method)) continue;
            const url = path.replace(/\{[^}]+\}/g, victim.id);
            const schema = operation.requestBody?.content?.['application/json']?.schema;
            const body = schema === undefined ? undefined : sample(schema, components);
            const response = await call(gatehouse, method.toUpperCase(), url, body, { key: readOnly.key });
            const label = `${method.toUpperCase()} ${path}`;
            assert.ok(response.status >= 400 && response.status < 500, `${label} with a read-only key: ${response.status} ${response.text}`);
            if (response.status === 403) {
              // The self-service routes answer a person's own sign-in only: no API key gets past them.
              assertError(response, 403, path.startsWith('/api/me/') ? 'auth.self_service_needs_sign_in' : 'auth.forbidden');
              refused.push(label);
            } else {
              // Our sample body did not pass validation (which runs before authorisation): still no write.
              invalid.push(`${label} → ${response.status} ${response.body?.code}`);
            }
          }
        }
        t.diagnostic(`403 for ${refused.length} writes; not reaching authorisation with a sample body: ${invalid.join('; ') || 'none'}`);
        assert.ok(refused.length >= 8, 'at least the users writes');
        assert.deepEqual(await gatehouse.directory.users.get(victim.id), victim);
      });
    });

    describe('acting on a more powerful administrator', () => {
      // Nobody grants or removes a role above their own (users.ts assertMayGrant). The same must hold
      // for what amounts to taking over or shutting out such an administrator: setting their
      // password, changing their email or username, suspending or deleting them.
      let boss: User;
      let helpDesk: string;
      let manager: string;
      before(async () => {
        helpDesk = (await adminKey(gatehouse, 'help_desk')).key;
        manager = (await adminKey(gatehouse, 'manager')).key;
      });
      // A fresh one for each case, so that one case's damage does not decide the next.
      beforeEach(async () => {
        const username = unique('boss');
        boss = await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: 'the-boss-password', role: 'administrator_with_billing' });
      });

      test('a help desk cannot set the password of an administrator with billing', async () => {
        const response = await call(gatehouse, 'PUT', `/api/users/${boss.id}/password`, { password: 'taken-over-password' }, { key: helpDesk });
        assertError(response, 403, 'auth.forbidden');
        assert.equal((await gatehouse.directory.users.signIn(boss.username, 'taken-over-password')).ok, false);
      });

      test('a help desk cannot suspend an administrator with billing', async () => {
        assertError(await call(gatehouse, 'POST', `/api/users/${boss.id}/suspend`, undefined, { key: helpDesk }), 403, 'auth.forbidden');
        assert.equal((await gatehouse.directory.users.get(boss.id)).state, 'ACTIVATED');
      });

      test('a manager cannot change the email of an administrator with billing', async () => {
        assertError(await call(gatehouse, 'PATCH', `/api/users/${boss.id}`, { email: 'attacker@evil.example' }, { key: manager }), 403, 'auth.forbidden');
        assert.equal((await gatehouse.directory.users.get(boss.id)).email, boss.email);
      });

      test('a manager cannot delete an administrator with billing', async () => {
        assertError(await call(gatehouse, 'DELETE', `/api/users/${boss.id}`, undefined, { key: manager }), 403, 'auth.forbidden');
        assert.equal((await gatehouse.directory.users.get(boss.id)).id, boss.id);
      });

      test('a manager (no security permission) cannot hand out a role by creating a user with one', async () => {
        // Assigning roles is the security permission (roles.ts); PUT /users/:id/role needs it, so
        // POST /users with a role must too, or a manager mints new administrators.
        const username = unique('minted');
        const response = await call(gatehouse, 'POST', '/api/users', { username, email: `${username}@example.com`, role: 'manager' }, { key: manager });
        assertError(response, 403, 'auth.forbidden');
        assert.equal((await call(gatehouse, 'GET', `/api/users/${username}`, undefined, { key: manager })).status, 404);
      });

      test('but a manager may still create a user without a role (or with role null)', async () => {
        for (const role of [undefined, null]) {
          const username = unique('plain');
          const response = await call(gatehouse, 'POST', '/api/users', { username, email: `${username}@example.com`, ...(role === null ? { role } : {}) }, { key: manager });
          assert.equal(response.status, 201, response.text);
          assert.equal(response.body.role, null);
        }
      });
    });
  });
}

/**
 * A minimal body that satisfies a documented JSON Schema: required properties only, the first enum
 * value or first anyOf/oneOf branch, strings of the minimum length. Enough to get past validation to
 * the authorisation check for most routes.
 */
function sample(schema: unknown, components: Record<string, unknown>, depth = 0): unknown {
  const s = schema as Record<string, unknown>;
  if (!s || typeof s !== 'object' || depth > 8) return undefined;
  if (typeof s.$ref === 'string') return sample(components[s.$ref.replace('#/components/schemas/', '')], components, depth + 1);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (Array.isArray(s[key])) return sample((s[key] as unknown[]).find((b) => (b as { type?: string }).type !== 'null') ?? s[key][0], components, depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      const required = (s.required ?? []) as string[];
      for (const name of required) out[name] = sample(properties[name], components, depth + 1);
      if (required.length === 0 && typeof s.minProperties === 'number' && s.minProperties > 0) {
        for (const name of Object.keys(properties).slice(0, s.minProperties)) out[name] = sample(properties[name], components, depth + 1);
      }
      return out;
    }
    case 'array':
      return Array.from({ length: Number(s.minItems ?? 0) }, () => sample(s.items, components, depth + 1));
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'boolean':
      return true;
    case 'string': {
      if (s.format === 'email') return `${unique('s')}@example.com`;
      if (s.format === 'uri' || s.format === 'url') return 'https://app.example.com/callback';
      if (s.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
      const length = Math.max(Number(s.minLength ?? 1), 1);
      return unique('sample').slice(0, Math.max(length, 8)).padEnd(length, 'x');
    }
    default:
      return undefined;
  }
}
