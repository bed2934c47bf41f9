/**
 * /api/policies (issue 12 §3): create, read, update, delete and reorder (atomic), with `{code,
 * message}` errors, schema refusals, roles, and every change in the audit log; both databases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`/api/policies (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let key: string;
    before(async () => {
      gatehouse = await startGatehouse(kind);
      ({ key } = await adminKey(gatehouse, 'administrator_with_billing'));
      await gatehouse.directory.groups.create('finance');
      await gatehouse.directory.apps.create({ label: 'Payroll', redirect_uris: ['https://payroll.example/cb'] });
    });
    after(() => gatehouse?.close());
    // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
    const api = <T = any>(method: string, path: string, body?: unknown, k = key) => call<T>(gatehouse, method, path, body, { key: k });

    test('create, list (with the default policy), get by name, update, reorder and delete; audited', async () => {
      const empty = await api('GET', '/api/policies');
      assert.equal(empty.status, 200);
      assert.deepEqual(empty.body, { data: [], total: 0, default_policy: { name: 'Default policy', action: 'allow' } });

      const mfa = await api('POST', '/api/policies', { name: 'Finance MFA', resource: 'apps', apps: ['Payroll'], users: 'groups', user_groups: ['finance'], action: 'require_mfa', addresses_not_in: ['10.0.0.0/8'] });
      assert.equal(mfa.status, 201, mfa.text);
      assert.equal(mfa.body.grace_days, 7);
      assert.equal(mfa.body.position, 1);
      assert.equal(mfa.body.apps[0].label, 'Payroll');
      const deny = await api('POST', '/api/policies', { name: 'No portal after Entra', resource: 'portal', sign_in: 'federated', action: 'deny' });
      assert.equal(deny.status, 201, deny.text);
      assert.equal(deny.body.position, 2);

      assert.equal((await api('GET', '/api/policies/finance%20mfa')).body.id, mfa.body.id);
      const patched = await api('PATCH', `/api/policies/${mfa.body.id}`, { grace_days: 30, enabled: false });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.grace_days, 30);
      assert.equal(patched.body.enabled, false);

      const reordered = await api('PUT', '/api/policies/order', { ids: [deny.body.id, 'Finance MFA'] });
      assert.equal(reordered.status, 200, reordered.text);
      assert.deepEqual(reordered.body.data.map((p: { name: string; position: number }) => `${p.position} ${p.name}`), ['1 No portal after Entra', '2 Finance MFA']);

      assert.equal((await api('DELETE', `/api/policies/${deny.body.id}`)).status, 204);
      const left = await api('GET', '/api/policies');
      assert.deepEqual(left.body.data.map((p: { name: string; position: number }) => `${p.position} ${p.name}`), ['1 Finance MFA']);

      const actions = (await gatehouse.directory.audit.list({ limit: 50, offset: 0 })).events.map((e) => e.action).filter((a) => a.startsWith('access_policy.'));
      for (const action of ['access_policy.create', 'access_policy.update', 'access_policy.reorder', 'access_policy.delete']) assert.ok(actions.includes(action), action);
      await api('DELETE', `/api/policies/${mfa.body.id}`);
    });

    test('refusals: {code, message} errors, unknown fields, bad CIDRs, a partial reorder changes nothing, taken names, missing policies', async () => {
      const a = await api('POST', '/api/policies', { name: 'A', resource: 'all_apps', action: 'deny', addresses_in: ['192.0.2.0/24'] });
      const b = await api('POST', '/api/policies', { name: 'B', resource: 'all_apps', action: 'allow' });
      const cases: [string, string, unknown, number, string][] = [
        ['POST', '/api/policies', { name: 'x', resource: 'portal', action: 'deny', addresses_in: ['300.1.2.3/8'] }, 400, 'access_policy.invalid_addresses_in'],
        ['POST', '/api/policies', { name: 'a', resource: 'portal', action: 'deny' }, 409, 'access_policy.name_taken'],
        ['POST', '/api/policies', { name: 'x', resource: 'apps', action: 'deny', apps: ['Nope'] }, 400, 'access_policy.invalid_apps'],
        ['POST', '/api/policies', { name: 'x', resource: 'portal', action: 'deny', grace_days: 400 }, 400, 'request.invalid'],
        ['POST', '/api/policies', { name: 'x', resource: 'portal', action: 'block' }, 400, 'request.invalid'],
        ['POST', '/api/policies', { name: 'x', resource: 'portal', action: 'deny', extra: 1 }, 400, 'request.invalid'],
        ['PUT', '/api/policies/order', { ids: [b.body.id] }, 400, 'access_policy.invalid_order'],
        ['PATCH', '/api/policies/nope', { enabled: false }, 404, 'access_policy.not_found'],
        ['DELETE', '/api/policies/nope', undefined, 404, 'access_policy.not_found'],
      ];
      for (const [method, path, body, status, code] of cases) {
        const response = await api(method, path, body);
        assert.equal(response.status, status, `${method} ${path} ${JSON.stringify(body)}: ${response.text}`);
        if (code !== 'request.invalid') assert.equal(response.body.code, code, response.text);
        assert.equal(typeof response.body.message, 'string');
      }
      const names = (await api('GET', '/api/policies')).body.data.map((p: { name: string }) => p.name);
      assert.deepEqual(names, ['A', 'B'], 'nothing changed');
      await api('DELETE', `/api/policies/${a.body.id}`);
      await api('DELETE', `/api/policies/${b.body.id}`);
    });

    test('roles: read-only keys read but do not change; other administrators neither', async () => {
      const { key: readOnly } = await adminKey(gatehouse, 'administrator_with_billing', { scope: 'read_only' });
      assert.equal((await api('GET', '/api/policies', undefined, readOnly)).status, 200);
      assert.equal((await api('POST', '/api/policies', { name: 'r', resource: 'portal', action: 'deny' }, readOnly)).status, 403);
      const { key: helpDesk } = await adminKey(gatehouse, 'help_desk');
      assert.equal((await api('GET', '/api/policies', undefined, helpDesk)).status, 403);
      assert.equal((await api('POST', '/api/policies', { name: 'h', resource: 'portal', action: 'deny' }, helpDesk)).status, 403);
      assert.equal((await call(gatehouse, 'GET', '/api/policies')).status, 401);
    });
  });
}
