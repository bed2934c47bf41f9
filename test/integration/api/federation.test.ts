/**
 * The federation routes of the directory API (src/http/routes/api/federation.ts) over real HTTP on
 * both databases: identity providers and routing policies (CRUD, every validation rule's code, the
 * secret never returned nor audited, only administrators with billing), a user's linked identities,
 * and passwords refused for people whose password is managed by their provider.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AuditEvent } from '../../../src/directory/audit.ts';
import { ROLES, type Role } from '../../../src/directory/roles.ts';
import { type ApiResponse as Response, adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const SECRET_MARK = 'do-not-leak-';

// biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
type ApiResponse = Response<any>;

function assertError(response: ApiResponse, status: number, code: string): void {
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status}: ${response.text}`);
  assert.equal(response.body.code, code, response.text);
  assert.equal(typeof response.body.message, 'string');
}

let sequence = 0;
const unique = (prefix: string) => `${prefix}${++sequence}${randomBytes(3).toString('hex')}`;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`federation API (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    const admins = {} as Record<Role, Awaited<ReturnType<typeof adminKey>>>;
    const api = (role: Role, method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: admins[role].key });
    const owner = (method: string, path: string, body?: unknown) => api('administrator_with_billing', method, path, body);
    const secret = () => `${SECRET_MARK}${randomBytes(12).toString('hex')}`;
    const entraBody = (overrides: Record<string, unknown> = {}) => ({
      name: unique('Entra '),
      type: 'entra',
      url: `https://login.microsoftonline.com/${TENANT}`,
      client_id: '11111111-2222-4333-8444-555555555555',
      client_secret: secret(),
      ...overrides,
    });
    const events = async (action: string): Promise<AuditEvent[]> => (await gatehouse.directory.audit.list({ action, limit: 1000 })).events;
    const newUser = async () => {
      const name = unique('person');
      return gatehouse.directory.users.create({ username: name, email: `${name}@example.com`, password: 'a-long-enough-password' });
    };

    before(async () => {
      gatehouse = await startGatehouse(kind);
      for (const role of ROLES) admins[role] = await adminKey(gatehouse, role);
    });
    after(() => gatehouse?.close());

    test('an Entra provider is created, read, listed, changed and deleted; the secret never comes back', async () => {
      const body = entraBody();
      const created = await owner('POST', '/api/identity-providers', body);
      assert.equal(created.status, 201, created.text);
      const provider = created.body;
      assert.equal(provider.name, body.name);
      assert.equal(provider.issuer, `https://login.microsoftonline.com/${TENANT}/v2.0`);
      assert.equal(provider.client_auth, 'client_secret_post');
      assert.equal(provider.scopes, 'openid email profile');
      assert.equal(provider.first_login, 'link_existing');
      assert.equal(provider.has_client_secret, true);
      assert.equal(provider.callback_url, `${gatehouse.issuer}/oauth/callback`);
      assert.ok(!created.text.includes(body.client_secret));
      assert.ok(!('client_secret' in provider));

      const byName = await owner('GET', `/api/identity-providers/${encodeURIComponent(body.name.toUpperCase())}`);
      assert.equal(byName.status, 200);
      assert.deepEqual(byName.body, provider);
      const list = await owner('GET', '/api/identity-providers');
      assert.equal(list.status, 200);
      assert.ok(list.body.data.some((p: { id: string }) => p.id === provider.id));
      assert.equal(list.body.total, list.body.data.length);
      assert.ok(!list.text.includes(SECRET_MARK));

      const newSecret = secret();
      const changed = await owner('PATCH', `/api/identity-providers/${provider.id}`, { client_secret: newSecret, enabled: false, scopes: 'openid email profile offline_access' });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.body.enabled, false);
      assert.equal(changed.body.scopes, 'openid email profile offline_access');
      assert.ok(!changed.text.includes(newSecret));
      assert.equal((await gatehouse.directory.identityProviders.upstream(provider.id)).clientSecret, newSecret);

      // Audited in the same transaction, naming fields, never the secret.
      const all = [...(await events('identity_provider.create')), ...(await events('identity_provider.update'))].filter((e) => e.target?.id === provider.id);
      assert.equal(all.length, 2);
      assert.deepEqual(all.find((e) => e.action === 'identity_provider.update')?.details.fields, ['client_secret', 'enabled', 'scopes']);
      const audit = await owner('GET', '/api/audit-events?action=identity_provider.*&limit=1000');
      assert.ok(!audit.text.includes(SECRET_MARK), 'no secret in the audit log');
      const rows = await gatehouse.runtime.storage.db.selectFrom('audit_events').select('details').execute();
      assert.ok(!rows.some((r) => r.details.includes(SECRET_MARK)));
      assert.ok(!JSON.stringify(await gatehouse.runtime.storage.db.selectFrom('identity_providers').selectAll().execute()).includes(SECRET_MARK), 'sealed at rest');

      const deleted = await owner('DELETE', `/api/identity-providers/${provider.id}`);
      assert.equal(deleted.status, 204);
      assertError(await owner('GET', `/api/identity-providers/${provider.id}`), 404, 'identity_provider.not_found');
      assert.equal((await events('identity_provider.delete')).filter((e) => e.target?.id === provider.id).length, 1);
    });

    test('an oidc provider takes an issuer and defaults to client_secret_basic', async () => {
      const created = await owner('POST', '/api/identity-providers', { name: unique('Upstream '), type: 'oidc', issuer: 'https://id.example.org', client_id: 'gh', client_secret: secret() });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.client_auth, 'client_secret_basic');
      assert.equal(created.body.url, null);
    });

    test('every validation rule answers 400 {code, message} with its own code, and writes nothing', async () => {
      const before = (await gatehouse.directory.identityProviders.list()).length;
      const cases: [Record<string, unknown>, string][] = [
        [{ url: 'https://login.microsoftonline.com' }, 'identity_provider.invalid_url'],
        [{ url: `https://login.microsoftonline.com/${TENANT}/v2.0` }, 'identity_provider.invalid_url'],
        [{ url: `http://login.microsoftonline.com/${TENANT}` }, 'identity_provider.invalid_url'],
        [{ url: 'https://login.microsoftonline.com/consumers' }, 'identity_provider.invalid_url'],
        [{ url: 'https://login.microsoftonline.com/common' }, 'identity_provider.invalid_allowed_tenants'],
        [{ url: 'https://login.microsoftonline.com/organizations', allowed_tenants: ['contoso.com'] }, 'identity_provider.invalid_allowed_tenants'],
        [{ allowed_tenants: [TENANT] }, 'identity_provider.invalid_allowed_tenants'],
        [{ scopes: 'email profile' }, 'identity_provider.invalid_scopes'],
        [{ verified_domains: ['not a domain'] }, 'identity_provider.invalid_verified_domains'],
        [{ home_realm_domains: ['contoso'] }, 'identity_provider.invalid_home_realm_domains'],
        [{ jit_groups: ['no such group'] }, 'identity_provider.invalid_jit_groups'],
        [{ name: '   ' }, 'identity_provider.invalid_name'],
        [{ client_id: '  ' }, 'identity_provider.invalid_client_id'],
        [{ client_secret: '   ' }, 'identity_provider.invalid_client_secret'],
        [{ type: 'oidc', url: undefined, issuer: 'http://id.example.org' }, 'identity_provider.invalid_issuer'],
        [{ type: 'oidc', url: undefined, issuer: 'https://id.example.org/?tenant=1' }, 'identity_provider.invalid_issuer'],
        [{ type: 'oidc', url: undefined }, 'identity_provider.invalid_issuer'],
        [{ type: 'oidc', issuer: 'https://id.example.org' }, 'identity_provider.invalid_url'],
        [{ type: 'oidc', url: undefined, issuer: 'https://id.example.org', verified_domains: ['contoso.com'] }, 'identity_provider.invalid_verified_domains'],
      ];
      for (const [overrides, code] of cases) {
        const response = await owner('POST', '/api/identity-providers', entraBody(overrides));
        assertError(response, 400, code);
        assert.ok(!response.text.includes(SECRET_MARK));
      }
      // The request's shape: unknown fields, wrong types and values outside an enum.
      assertError(await owner('POST', '/api/identity-providers', entraBody({ type: 'saml' })), 400, 'request.invalid');
      assertError(await owner('POST', '/api/identity-providers', entraBody({ client_auth: 'private_key_jwt' })), 400, 'request.invalid');
      assertError(await owner('POST', '/api/identity-providers', entraBody({ first_login: 'merge' })), 400, 'request.invalid');
      assertError(await owner('POST', '/api/identity-providers', entraBody({ client_secret: undefined })), 400, 'request.invalid');
      assertError(await owner('POST', '/api/identity-providers', entraBody({ extra: 1 })), 400, 'request.invalid');
      assert.equal((await gatehouse.directory.identityProviders.list()).length, before);

      // Duplicates are 409.
      const domain = `${unique('d')}.example`;
      const taken = entraBody({ home_realm_domains: [domain] });
      assert.equal((await owner('POST', '/api/identity-providers', taken)).status, 201);
      assertError(await owner('POST', '/api/identity-providers', entraBody({ name: taken.name.toLowerCase() })), 409, 'identity_provider.name_taken');
      assertError(await owner('POST', '/api/identity-providers', entraBody({ home_realm_domains: [domain] })), 409, 'identity_provider.domain_taken');
      // type cannot change.
      assertError(await owner('PATCH', `/api/identity-providers/${encodeURIComponent(taken.name)}`, { type: 'oidc' }), 400, 'request.invalid');
      // A refused change is audited as a failure with its code.
      const failures = (await events('identity_provider.create')).filter((e) => e.outcome === 'failure');
      assert.ok(failures.some((e) => e.details.code === 'identity_provider.name_taken'));
      assert.ok(!JSON.stringify(failures).includes(SECRET_MARK));
    });

    test('multi-tenant Entra providers need their allowed tenants', async () => {
      const response = await owner('POST', '/api/identity-providers', entraBody({ url: 'https://login.microsoftonline.com/organizations', allowed_tenants: [TENANT, OTHER_TENANT] }));
      assert.equal(response.status, 201, response.text);
      assert.equal(response.body.issuer, null);
      assert.deepEqual(response.body.allowed_tenants, [TENANT, OTHER_TENANT]);
      assertError(await owner('PATCH', `/api/identity-providers/${response.body.id}`, { allowed_tenants: [] }), 400, 'identity_provider.invalid_allowed_tenants');
    });

    test('only administrators with billing see or change providers and policies; read-only keys of theirs only read', async () => {
      const provider = (await owner('POST', '/api/identity-providers', entraBody())).body;
      const group = await gatehouse.directory.groups.create(unique('Routed '));
      const policy = (await owner('POST', '/api/routing-policies', { name: unique('Policy '), identity_provider: provider.id, user_groups: [group.id] })).body;
      for (const role of ROLES.filter((r) => r !== 'administrator_with_billing')) {
        for (const [method, path, body] of [
          ['GET', '/api/identity-providers'],
          ['GET', `/api/identity-providers/${provider.id}`],
          ['POST', '/api/identity-providers', entraBody()],
          ['PATCH', `/api/identity-providers/${provider.id}`, { enabled: false }],
          ['DELETE', `/api/identity-providers/${provider.id}`],
          ['POST', `/api/identity-providers/${provider.id}/test`],
          ['GET', '/api/routing-policies'],
          ['GET', `/api/routing-policies/${policy.id}`],
          ['POST', '/api/routing-policies', { name: unique('P'), identity_provider: provider.id, user_groups: [group.id] }],
          ['PATCH', `/api/routing-policies/${policy.id}`, { enabled: false }],
          ['DELETE', `/api/routing-policies/${policy.id}`],
        ] as [string, string, unknown?][]) {
          assertError(await api(role, method, path, body), 403, 'auth.forbidden');
        }
      }
      const readOnly = await adminKey(gatehouse, 'administrator_with_billing', { scope: 'read_only' });
      assert.equal((await call(gatehouse, 'GET', '/api/identity-providers', undefined, { key: readOnly.key })).status, 200);
      assert.equal((await call(gatehouse, 'GET', `/api/routing-policies/${policy.id}`, undefined, { key: readOnly.key })).status, 200);
      assertError(await call(gatehouse, 'PATCH', `/api/identity-providers/${provider.id}`, { enabled: false }, { key: readOnly.key }), 403, 'auth.forbidden');
      assertError(await call(gatehouse, 'POST', `/api/identity-providers/${provider.id}/test`, undefined, { key: readOnly.key }), 403, 'auth.forbidden');
      assertError(await call(gatehouse, 'GET', '/api/identity-providers'), 401, 'auth.invalid_credentials');
      // Nothing changed.
      assert.equal((await gatehouse.directory.identityProviders.get(provider.id)).enabled, true);
      assert.equal((await gatehouse.directory.routingPolicies.get(policy.id)).enabled, true);
    });

    test('routing policies: CRUD, validation, order, audit; a provider in use cannot be deleted', async () => {
      const provider = (await owner('POST', '/api/identity-providers', entraBody())).body;
      const [sales, support] = [await gatehouse.directory.groups.create(unique('Sales ')), await gatehouse.directory.groups.create(unique('Support '))];
      const name = unique('Sales to Entra ');
      const created = await owner('POST', '/api/routing-policies', { name, priority: 7, identity_provider: provider.name, user_groups: [sales.name] });
      assert.equal(created.status, 201, created.text);
      const policy = created.body;
      assert.deepEqual(policy.identity_provider, { id: provider.id, name: provider.name });
      assert.deepEqual(policy.user_groups, [{ id: sales.id, name: sales.name }]);
      assert.equal(policy.priority, 7);
      assert.equal(policy.enabled, true);

      assertError(await owner('POST', '/api/routing-policies', { name, identity_provider: provider.id, user_groups: [sales.id] }), 409, 'routing_policy.name_taken');
      assertError(await owner('POST', '/api/routing-policies', { name: unique('x'), identity_provider: 'nope', user_groups: [sales.id] }), 400, 'routing_policy.invalid_identity_provider');
      assertError(await owner('POST', '/api/routing-policies', { name: unique('x'), identity_provider: provider.id, user_groups: ['nope'] }), 400, 'routing_policy.invalid_user_groups');
      assertError(await owner('POST', '/api/routing-policies', { name: '  ', identity_provider: provider.id, user_groups: [sales.id] }), 400, 'routing_policy.invalid_name');
      assertError(await owner('POST', '/api/routing-policies', { name: unique('x'), identity_provider: provider.id, user_groups: [] }), 400, 'request.invalid');
      assertError(await owner('POST', '/api/routing-policies', { name: unique('x'), identity_provider: provider.id, user_groups: [sales.id], priority: -1 }), 400, 'request.invalid');

      const changed = await owner('PATCH', `/api/routing-policies/${policy.id}`, { user_groups: [support.id, sales.id], priority: 3 });
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual(changed.body.user_groups.map((g: { id: string }) => g.id).sort(), [sales.id, support.id].sort());
      const list = await owner('GET', '/api/routing-policies');
      const priorities = list.body.data.map((p: { priority: number }) => p.priority);
      assert.deepEqual(priorities, [...priorities].sort((a, b) => a - b));
      assert.equal(list.body.total, list.body.data.length);

      assertError(await owner('DELETE', `/api/identity-providers/${provider.id}`), 409, 'identity_provider.in_use');
      assert.equal((await owner('DELETE', `/api/routing-policies/${policy.id}`)).status, 204);
      assertError(await owner('GET', `/api/routing-policies/${policy.id}`), 404, 'routing_policy.not_found');
      assert.equal((await owner('DELETE', `/api/identity-providers/${provider.id}`)).status, 204);
      for (const action of ['routing_policy.create', 'routing_policy.update', 'routing_policy.delete']) {
        assert.ok((await events(action)).some((e) => e.target?.id === policy.id && e.outcome === 'success'), action);
      }
    });

    test('a user’s identities are listed and unlinked; a routed user’s password is externally managed and cannot be set', async () => {
      const provider = (await owner('POST', '/api/identity-providers', entraBody())).body;
      const user = await newUser();
      const identities = await api('read_only', 'GET', `/api/users/${user.id}/identities`);
      assert.equal(identities.status, 200, identities.text);
      assert.deepEqual(identities.body, { data: [], externally_managed_password: false, identity_provider: null });

      const link = await gatehouse.directory.identityLinks.create({ user_id: user.id, identity_provider_id: provider.id, issuer: TENANT, subject: unique('oid-'), email: user.email });
      const group = await gatehouse.directory.groups.create(unique('Entra people '));
      await gatehouse.directory.groups.addMember(group.id, user.id);
      // Before a policy: the password can still be set (a provider alone changes nobody's sign-in).
      assert.equal((await api('help_desk', 'PUT', `/api/users/${user.id}/password`, { password: 'another-long-password' })).status, 200);
      const policy = (await owner('POST', '/api/routing-policies', { name: unique('Entra '), identity_provider: provider.id, user_groups: [group.id] })).body;

      const routed = await api('read_only', 'GET', `/api/users/${user.username}/identities`);
      assert.equal(routed.status, 200);
      assert.equal(routed.body.externally_managed_password, true);
      assert.deepEqual(routed.body.identity_provider, { id: provider.id, name: provider.name });
      assert.deepEqual(routed.body.data.map((l: { id: string }) => l.id), [link.id]);
      assert.deepEqual(routed.body.data[0].identity_provider, { id: provider.id, name: provider.name });

      const hashBefore = (await gatehouse.runtime.storage.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow()).password_hash;
      assertError(await api('help_desk', 'PUT', `/api/users/${user.id}/password`, { password: 'a-new-long-password' }), 409, 'user.password_externally_managed');
      // The JumpCloud-compatible route too, alone or with other changes (which then don't happen either).
      assertError(await api('help_desk', 'PUT', `/api/systemusers/${user.id}`, { password: 'a-new-long-password' }), 409, 'user.password_externally_managed');
      assertError(await api('administrator', 'PUT', `/api/systemusers/${user.id}`, { firstname: 'Changed', password: 'a-new-long-password' }), 409, 'user.password_externally_managed');
      const after = await gatehouse.runtime.storage.db.selectFrom('users').select(['password_hash', 'firstname']).where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(after.password_hash, hashBefore);
      assert.notEqual(after.firstname, 'Changed');
      assert.ok((await events('user.set_password')).some((e) => e.target?.id === user.id && e.outcome === 'failure' && e.details.code === 'user.password_externally_managed'));
      // A disabled policy hands the password back to Gatehouse.
      await owner('PATCH', `/api/routing-policies/${policy.id}`, { enabled: false });
      assert.equal((await api('read_only', 'GET', `/api/users/${user.id}/identities`)).body.externally_managed_password, false);
      assert.equal((await api('help_desk', 'PUT', `/api/users/${user.id}/password`, { password: 'a-new-long-password' })).status, 200);

      // Unlinking needs the directory permission and a link of that user.
      assertError(await api('help_desk', 'DELETE', `/api/users/${user.id}/identities/${link.id}`), 403, 'auth.forbidden');
      const other = await newUser();
      assertError(await api('administrator', 'DELETE', `/api/users/${other.id}/identities/${link.id}`), 404, 'identity_link.not_found');
      assertError(await api('administrator', 'DELETE', `/api/users/${user.id}/identities/nope`), 404, 'identity_link.not_found');
      assert.equal((await api('administrator', 'DELETE', `/api/users/${user.id}/identities/${link.id}`)).status, 204);
      assert.deepEqual((await api('read_only', 'GET', `/api/users/${user.id}/identities`)).body.data, []);
      const unlink = (await events('federation.unlink')).find((e) => e.target?.id === user.id && e.outcome === 'success');
      assert.equal(unlink?.details.link_id, link.id);
      assert.equal(unlink?.details.identity_provider, provider.name);
      assertError(await api('read_only', 'GET', '/api/users/nobody-at-all/identities'), 404, 'user.not_found');
    });

    test('the connection test answers what discovery found, with the callback URL, and never the secret', async () => {
      // Gatehouse is itself an OpenID provider: a real discovery document and keys to find.
      const body = { name: unique('Self '), type: 'oidc', issuer: gatehouse.issuer, client_id: 'gatehouse-self', client_secret: secret() };
      const provider = (await owner('POST', '/api/identity-providers', body)).body;
      const response = await owner('POST', `/api/identity-providers/${provider.id}/test`);
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.discovery_url, `${gatehouse.issuer}/.well-known/openid-configuration`);
      assert.equal(response.body.issuer, gatehouse.issuer);
      assert.equal(response.body.callback_url, `${gatehouse.issuer}/oauth/callback`);
      assert.ok(response.body.keys >= 1);
      assert.ok(!response.text.includes(body.client_secret));
      assertError(await owner('POST', '/api/identity-providers/nope/test'), 404, 'identity_provider.not_found');
    });
  });
}
