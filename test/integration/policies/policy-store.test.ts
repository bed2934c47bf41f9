/**
 * Access policies at rest and their evaluation (issue 12 §3): the first enabled matching policy
 * decides, else the default (allow); resources, groups, CIDR lists (IPv4 and IPv6) and the
 * federated condition; names unique in any case; positions kept 1..n through create, move, reorder
 * and delete; the enrolment grace period counted from the first time, with an injected clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AccessContext, type AccessPolicy, compilePolicy, evaluatePolicies } from '../../../src/authn/policies.ts';
import type { Runtime } from '../../../src/runtime.ts';
import { DATABASE_KINDS, freshRuntime } from '../../helpers/databases.ts';
import { rejectsWith, unique } from '../../helpers/domain.ts';

const policy = (overrides: Partial<AccessPolicy>): AccessPolicy => ({
  id: overrides.name ?? 'p',
  name: 'p',
  enabled: true,
  position: 1,
  resource: 'all_apps',
  apps: [],
  users: 'all',
  user_groups: [],
  addresses_in: [],
  addresses_not_in: [],
  sign_in: 'any',
  action: 'deny',
  grace_days: 7,
  created: '',
  updated: '',
  ...overrides,
});
const context = (overrides: Partial<AccessContext>): AccessContext => ({ resource: { kind: 'app', appId: 'app1' }, groupIds: new Set(['all']), address: '127.0.0.1', federated: false, ...overrides });
const decide = (policies: AccessPolicy[], ctx: Partial<AccessContext>) => evaluatePolicies(policies.map(compilePolicy), context(ctx));

describe('access policy evaluation (no storage)', () => {
  test('no policy: the default allows', () => {
    assert.deepEqual(decide([], {}), { action: 'allow', policy: undefined });
  });

  test('the first enabled matching policy decides, in position order; a disabled one is passed over', () => {
    const policies = [
      policy({ name: 'second', position: 2, action: 'require_mfa' }),
      policy({ name: 'first-disabled', position: 1, enabled: false, action: 'deny' }),
      policy({ name: 'third', position: 3, action: 'deny' }),
    ];
    assert.equal(decide(policies, {}).policy?.name, 'second');
    assert.equal(decide(policies, {}).action, 'require_mfa');
  });

  test('resources: the portal, all apps, chosen apps', () => {
    const portal = policy({ name: 'portal', resource: 'portal' });
    assert.equal(decide([portal], { resource: { kind: 'portal' } }).action, 'deny');
    assert.equal(decide([portal], {}).action, 'allow', 'an app is not the portal');
    const allApps = policy({ name: 'apps', resource: 'all_apps' });
    assert.equal(decide([allApps], { resource: { kind: 'portal' } }).action, 'allow', 'the portal is not an app');
    const chosen = policy({ name: 'chosen', resource: 'apps', apps: [{ id: 'app2', label: 'Two' }] });
    assert.equal(decide([chosen], {}).action, 'allow');
    assert.equal(decide([chosen], { resource: { kind: 'app', appId: 'app2' } }).action, 'deny');
  });

  test('people: everyone, or members of the chosen groups', () => {
    const ops = policy({ name: 'ops', users: 'groups', user_groups: [{ id: 'g-ops', name: 'ops' }] });
    assert.equal(decide([ops], {}).action, 'allow');
    assert.equal(decide([ops], { groupIds: new Set(['all', 'g-ops']) }).action, 'deny');
  });

  test('client address in / not in CIDR lists, IPv4 and IPv6 (IPv4-mapped addresses are IPv4)', () => {
    const inside = policy({ name: 'in', addresses_in: ['10.0.0.0/8', '2001:db8::/32'] });
    assert.equal(decide([inside], { address: '10.1.2.3' }).action, 'deny');
    assert.equal(decide([inside], { address: '::ffff:10.1.2.3' }).action, 'deny');
    assert.equal(decide([inside], { address: '2001:db8:1::5' }).action, 'deny');
    assert.equal(decide([inside], { address: '11.0.0.1' }).action, 'allow');
    assert.equal(decide([inside], { address: '2001:db9::1' }).action, 'allow');
    assert.equal(decide([inside], { address: 'not an address' }).action, 'allow', 'an unreadable address is in no block');
    const outside = policy({ name: 'out', addresses_not_in: ['127.0.0.0/30'] });
    assert.equal(decide([outside], { address: '127.0.0.2' }).action, 'allow');
    assert.equal(decide([outside], { address: '127.0.0.9' }).action, 'deny');
    assert.equal(decide([outside], { address: 'garbage' }).action, 'deny', 'a deny-list fails closed on an unreadable address');
  });

  test('signed in through an upstream provider, or not', () => {
    const federated = policy({ name: 'fed', sign_in: 'federated' });
    assert.equal(decide([federated], { federated: true }).action, 'deny');
    assert.equal(decide([federated], { federated: false }).action, 'allow');
    const local = policy({ name: 'local', sign_in: 'not_federated' });
    assert.equal(decide([local], { federated: true }).action, 'allow');
    assert.equal(decide([local], { federated: false }).action, 'deny');
  });
});

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`access policy store (${kind})`, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
    });
    after(() => cleanup());
    const store = () => rt.directory.accessPolicies;

    test('create, read, update and delete, with names unique in any case and refs by id or name', async () => {
      const group = await rt.directory.groups.create(unique('grp'));
      const { app } = await rt.directory.apps.create({ label: unique('App'), redirect_uris: ['https://app.example/cb'] });
      const name = unique('Policy');
      const created = await store().create({ name, resource: 'apps', apps: [app.label], users: 'groups', user_groups: [group.name], addresses_in: ['10.9.8.7/8', '2001:db8::1/32'], action: 'require_mfa' });
      assert.equal(created.grace_days, 7, 'default grace period');
      assert.deepEqual(created.apps, [{ id: app.id, label: app.label }]);
      assert.deepEqual(created.user_groups, [{ id: group.id, name: group.name }]);
      assert.deepEqual(created.addresses_in, ['10.0.0.0/8', '2001:db8::/32'], 'normalised to network addresses');
      assert.equal(created.sign_in, 'any');
      assert.deepEqual(await store().get(name.toLowerCase()), created);
      assert.deepEqual(await store().get(created.id), created);
      await rejectsWith(store().create({ name: name.toUpperCase(), resource: 'portal', action: 'deny' }), 'access_policy.name_taken', 409);

      const updated = await store().update(created.id, { action: 'deny', sign_in: 'federated', grace_days: 0 });
      assert.equal(updated.action, 'deny');
      assert.equal(updated.sign_in, 'federated');
      assert.equal(updated.grace_days, 0);
      assert.deepEqual(updated.apps, created.apps, 'lists not given are kept');
      assert.deepEqual(await store().remove(name), updated);
      await rejectsWith(store().get(name), 'access_policy.not_found', 404);
    });

    test('refusals: bad names, actions, resources, CIDRs, grace periods, missing lists, unknown refs', async () => {
      const ok = { name: unique('p'), resource: 'portal', action: 'deny' };
      await rejectsWith(store().create({ ...ok, name: '  ' }), 'access_policy.invalid_name', 400);
      await rejectsWith(store().create({ ...ok, action: 'block' }), 'access_policy.invalid_action', 400);
      await rejectsWith(store().create({ ...ok, resource: 'everything' }), 'access_policy.invalid_resource', 400);
      await rejectsWith(store().create({ ...ok, addresses_in: ['10.0.0.0/33'] }), 'access_policy.invalid_addresses_in', 400);
      await rejectsWith(store().create({ ...ok, addresses_not_in: ['example.com'] }), 'access_policy.invalid_addresses_not_in', 400);
      await rejectsWith(store().create({ ...ok, addresses_in: '10.0.0.0/8' }), 'access_policy.invalid_addresses_in', 400);
      await rejectsWith(store().create({ ...ok, grace_days: 366 }), 'access_policy.invalid_grace_days', 400);
      await rejectsWith(store().create({ ...ok, grace_days: -1 }), 'access_policy.invalid_grace_days', 400);
      await rejectsWith(store().create({ ...ok, grace_days: 1.5 }), 'access_policy.invalid_grace_days', 400);
      await rejectsWith(store().create({ ...ok, resource: 'apps' }), 'access_policy.invalid_apps', 400);
      await rejectsWith(store().create({ ...ok, resource: 'apps', apps: ['no such app'] }), 'access_policy.invalid_apps', 400);
      await rejectsWith(store().create({ ...ok, users: 'groups' }), 'access_policy.invalid_user_groups', 400);
      await rejectsWith(store().create({ ...ok, users: 'groups', user_groups: ['no such group'] }), 'access_policy.invalid_user_groups', 400);
      await rejectsWith(store().create({ ...ok, sign_in: 'maybe' }), 'access_policy.invalid_sign_in', 400);
      await rejectsWith(store().create({ ...ok, position: 0 }), 'access_policy.invalid_position', 400);
      assert.equal((await store().list()).some((p) => p.name === ok.name), false, 'nothing was stored');
    });

    test('positions stay 1..n through create at a position, move, reorder and delete', async () => {
      for (const p of await store().list()) await store().remove(p.id);
      const a = await store().create({ name: 'A', resource: 'portal', action: 'allow' });
      const b = await store().create({ name: 'B', resource: 'portal', action: 'allow' });
      const c = await store().create({ name: 'C', resource: 'portal', action: 'allow', position: 1 });
      const names = async () => (await store().list()).map((p) => `${p.position}${p.name}`);
      assert.deepEqual(await names(), ['1C', '2A', '3B']);
      await store().move('b', 1);
      assert.deepEqual(await names(), ['1B', '2C', '3A']);
      await store().reorder([a.id, 'b', c.name]);
      assert.deepEqual(await names(), ['1A', '2B', '3C']);
      await rejectsWith(store().reorder([a.id, b.id]), 'access_policy.invalid_order', 400);
      await rejectsWith(store().reorder([a.id, a.id, c.id]), 'access_policy.invalid_order', 400);
      await rejectsWith(store().move('a', 4), 'access_policy.invalid_position', 400);
      await store().remove('b');
      assert.deepEqual(await names(), ['1A', '2C']);
      await store().remove('a');
      await store().remove('c');
    });

    test('decide: a person\'s groups (All Users included) and the first matching policy', async () => {
      const user = await rt.directory.users.create({ username: unique('u'), email: `${unique('u')}@example.com` });
      const other = await rt.directory.users.create({ username: unique('o'), email: `${unique('o')}@example.com` });
      const group = await rt.directory.groups.create(unique('mfa'));
      await rt.directory.groups.addMember(group.id, user.id);
      const mfa = await store().create({ name: unique('mfa'), resource: 'all_apps', users: 'groups', user_groups: [group.id], action: 'require_mfa' });
      const ctx = { resource: { kind: 'app' as const, appId: 'x' }, address: '127.0.0.1', federated: false };
      assert.equal((await store().decide(user.id, ctx)).policy?.name, mfa.name);
      assert.equal((await store().decide(other.id, ctx)).action, 'allow');
      assert.deepEqual(await store().requiringMfaOf(user.id), [{ id: mfa.id, name: mfa.name }]);
      assert.deepEqual(await store().requiringMfaOf(other.id), []);
      const everyone = await store().create({ name: unique('everyone'), resource: 'portal', users: 'all', action: 'deny' });
      assert.equal((await store().decide(other.id, { ...ctx, resource: { kind: 'portal' } })).policy?.name, everyone.name, 'All Users without a stored membership');
      await store().remove(mfa.id);
      await store().remove(everyone.id);
    });

    test('the enrolment grace period counts from the first time the policy required MFA of the person', async () => {
      const user = await rt.directory.users.create({ username: unique('g'), email: `${unique('g')}@example.com` });
      const p = await store().create({ name: unique('grace'), resource: 'all_apps', action: 'require_mfa', grace_days: 3 });
      const start = Date.parse('2026-12-01T00:00:00Z');
      const first = await store().enrolmentDeadline(user.id, p, start);
      assert.equal(first.deadline.toISOString(), '2026-12-04T00:00:00.000Z');
      assert.equal(first.inGrace, true);
      const later = await store().enrolmentDeadline(user.id, p, start + 2 * 86_400_000);
      assert.equal(later.firstRequiredAt, first.firstRequiredAt, 'not restarted');
      assert.equal(later.inGrace, true);
      assert.equal((await store().enrolmentDeadline(user.id, p, start + 3 * 86_400_000)).inGrace, false, 'the deadline itself is past the grace');
      const zero = await store().update(p.id, { grace_days: 0 });
      assert.equal((await store().enrolmentDeadline(user.id, zero, start)).inGrace, false, 'no grace at all');
      await store().remove(p.id);
      const rows = await rt.storage.db.selectFrom('mfa_requirements').selectAll().where('user_id', '=', user.id).execute();
      assert.equal(rows.length, 0, 'deleting the policy forgets its grace periods');
    });
  });
}
