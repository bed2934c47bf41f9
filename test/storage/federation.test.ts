import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { User } from '../../src/directory/users.ts';
import type { IdentityProviderInput } from '../../src/federation/types.ts';
import type { Runtime } from '../../src/runtime.ts';
import { DATABASE_KINDS, freshRuntime } from '../helpers/databases.ts';
import { rejectsWith, unique } from '../helpers/domain.ts';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(kind, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
    });
    after(() => cleanup());

    const entra = (overrides: Partial<IdentityProviderInput> = {}): IdentityProviderInput => ({
      name: unique('Entra'),
      type: 'entra',
      url: `https://login.microsoftonline.com/${TENANT}`,
      client_id: 'c1d2e3f4-0000-4000-8000-000000000001',
      client_secret: unique('s3cr3t-value-'),
      ...overrides,
    });
    const oidc = (overrides: Partial<IdentityProviderInput> = {}): IdentityProviderInput => ({
      name: unique('Upstream'),
      type: 'oidc',
      issuer: 'https://id.example.org',
      client_id: 'gatehouse',
      client_secret: unique('another-secret-'),
      ...overrides,
    });
    const newUser = (email?: string): Promise<User> => {
      const name = unique('fed');
      return rt.directory.users.create({ username: name, email: email ?? `${name}@example.com` });
    };
    const rawProvider = (id: string) => rt.storage.db.selectFrom('identity_providers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

    test('an Entra provider is created with the defaults and found by id or name in any case', async () => {
      const input = entra({ url: `https://login.microsoftonline.com/${TENANT.toUpperCase()}/` });
      const provider = await rt.directory.identityProviders.create(input);
      assert.match(provider.id, /^[0-9a-f]{24}$/);
      assert.equal(provider.type, 'entra');
      assert.equal(provider.enabled, true);
      assert.equal(provider.url, `https://login.microsoftonline.com/${TENANT}`);
      assert.equal(provider.issuer, `https://login.microsoftonline.com/${TENANT}/v2.0`);
      assert.equal(provider.client_auth, 'client_secret_post');
      assert.equal(provider.scopes, 'openid email profile');
      assert.equal(provider.first_login, 'link_existing');
      assert.equal(provider.has_client_secret, true);
      assert.deepEqual([provider.allowed_tenants, provider.verified_domains, provider.home_realm_domains, provider.jit_groups], [[], [], [], []]);
      assert.ok(!('client_secret' in provider));
      assert.deepEqual(await rt.directory.identityProviders.get(provider.id), provider);
      assert.deepEqual(await rt.directory.identityProviders.get(input.name.toUpperCase()), provider);
      assert.ok((await rt.directory.identityProviders.list()).some((p) => p.id === provider.id));
      await rejectsWith(rt.directory.identityProviders.get('nobody'), 'identity_provider.not_found', 404);
    });

    test('the client secret is sealed in the database and unsealed only for the sign-in leg', async () => {
      const input = entra();
      const provider = await rt.directory.identityProviders.create(input);
      const row = await rawProvider(provider.id);
      assert.ok(row.client_secret_sealed);
      assert.ok(!row.client_secret_sealed.includes(input.client_secret));
      assert.ok(!JSON.stringify(row).includes(input.client_secret));
      const upstream = await rt.directory.identityProviders.upstream(provider.name);
      assert.equal(upstream.clientSecret, input.client_secret);
      assert.equal(upstream.discoveryUrl, `https://login.microsoftonline.com/${TENANT}/v2.0/.well-known/openid-configuration`);
      assert.deepEqual(upstream.provider, provider);

      // A new secret replaces the old one; leaving it out keeps it.
      await rt.directory.identityProviders.update(provider.id, { client_secret: 'replaced-secret' });
      assert.equal((await rt.directory.identityProviders.upstream(provider.id)).clientSecret, 'replaced-secret');
      await rt.directory.identityProviders.update(provider.id, { client_id: 'other-client' });
      assert.equal((await rt.directory.identityProviders.upstream(provider.id)).clientSecret, 'replaced-secret');
      assert.ok(!JSON.stringify(await rawProvider(provider.id)).includes('replaced-secret'));
    });

    test('an oidc provider defaults to client_secret_basic and discovers under its issuer', async () => {
      const provider = await rt.directory.identityProviders.create(oidc({ issuer: 'http://127.0.0.1:4000/tenant/' }));
      assert.equal(provider.client_auth, 'client_secret_basic');
      assert.equal(provider.issuer, 'http://127.0.0.1:4000/tenant/');
      assert.equal(provider.url, null);
      assert.equal((await rt.directory.identityProviders.upstream(provider.id)).discoveryUrl, 'http://127.0.0.1:4000/tenant/.well-known/openid-configuration');
    });

    test('names are unique without regard to case', async () => {
      const first = await rt.directory.identityProviders.create(entra());
      await rejectsWith(rt.directory.identityProviders.create(oidc({ name: first.name.toUpperCase() })), 'identity_provider.name_taken', 409);
      const second = await rt.directory.identityProviders.create(oidc());
      await rejectsWith(rt.directory.identityProviders.update(second.id, { name: ` ${first.name.toLowerCase()} ` }), 'identity_provider.name_taken', 409);
    });

    test('Entra URLs: one tenant segment, https (http for loopback only), consumers refused, multi-tenant needs allowed tenants', async () => {
      const bad = [
        'https://login.microsoftonline.com',
        'https://login.microsoftonline.com/',
        `https://login.microsoftonline.com/${TENANT}/v2.0`,
        `http://login.microsoftonline.com/${TENANT}`,
        'https://login.microsoftonline.com/consumers',
        'https://login.microsoftonline.com/not_a_tenant!',
        `https://login.microsoftonline.com/${TENANT}?x=1`,
        `https://user:pw@login.microsoftonline.com/${TENANT}`,
        'not a url',
      ];
      for (const url of bad) await rejectsWith(rt.directory.identityProviders.create(entra({ url })), 'identity_provider.invalid_url', 400);
      const byDomain = await rt.directory.identityProviders.create(entra({ url: 'https://login.microsoftonline.com/Contoso.onmicrosoft.com' }));
      // Entra names its tenants by id in the issuer, never by domain: the issuer is learnt by discovery.
      assert.equal(byDomain.url, 'https://login.microsoftonline.com/contoso.onmicrosoft.com');
      assert.equal(byDomain.issuer, null);
      const local = await rt.directory.identityProviders.create(entra({ url: `http://127.0.0.1:5555/${TENANT}` }));
      assert.equal(local.url, `http://127.0.0.1:5555/${TENANT}`);

      for (const tenant of ['common', 'organizations']) {
        await rejectsWith(rt.directory.identityProviders.create(entra({ url: `https://login.microsoftonline.com/${tenant}` })), 'identity_provider.invalid_allowed_tenants', 400);
        await rejectsWith(
          rt.directory.identityProviders.create(entra({ url: `https://login.microsoftonline.com/${tenant}`, allowed_tenants: ['contoso.com'] })),
          'identity_provider.invalid_allowed_tenants',
          400,
        );
        const multi = await rt.directory.identityProviders.create(entra({ url: `https://login.microsoftonline.com/${tenant}`, allowed_tenants: [TENANT.toUpperCase(), OTHER_TENANT] }));
        assert.equal(multi.issuer, null);
        assert.deepEqual(multi.allowed_tenants, [TENANT, OTHER_TENANT]);
        // Emptying the list of a multi-tenant provider would let every tenant in.
        await rejectsWith(rt.directory.identityProviders.update(multi.id, { allowed_tenants: [] }), 'identity_provider.invalid_allowed_tenants', 400);
      }
      // Single-tenant URLs take no tenant list.
      await rejectsWith(rt.directory.identityProviders.create(entra({ allowed_tenants: [TENANT] })), 'identity_provider.invalid_allowed_tenants', 400);
    });

    test('every other rule has its own code', async () => {
      const cases: [Partial<IdentityProviderInput>, string][] = [
        [{ name: '  ' }, 'identity_provider.invalid_name'],
        [{ type: 'saml' as never }, 'identity_provider.invalid_type'],
        [{ client_id: '' }, 'identity_provider.invalid_client_id'],
        [{ client_secret: '' }, 'identity_provider.invalid_client_secret'],
        [{ client_auth: 'private_key_jwt' as never }, 'identity_provider.invalid_client_auth'],
        [{ scopes: 'email profile' }, 'identity_provider.invalid_scopes'],
        [{ scopes: 'openid "quoted"' }, 'identity_provider.invalid_scopes'],
        [{ first_login: 'merge' as never }, 'identity_provider.invalid_first_login'],
        [{ verified_domains: ['not a domain'] }, 'identity_provider.invalid_verified_domains'],
        [{ home_realm_domains: ['@contoso.com'] }, 'identity_provider.invalid_home_realm_domains'],
        [{ jit_groups: ['no such group'] }, 'identity_provider.invalid_jit_groups'],
        [{ jit_groups: ['All Users'] }, 'identity_provider.invalid_jit_groups'],
        [{ issuer: 'https://elsewhere.example/v2.0' }, 'identity_provider.invalid_issuer'],
      ];
      for (const [overrides, code] of cases) await rejectsWith(rt.directory.identityProviders.create(entra(overrides)), code, 400);
      const oidcCases: [Partial<IdentityProviderInput>, string][] = [
        [{ issuer: 'ftp://id.example.org' }, 'identity_provider.invalid_issuer'],
        [{ issuer: 'http://id.example.org' }, 'identity_provider.invalid_issuer'],
        [{ issuer: 'https://id.example.org/#x' }, 'identity_provider.invalid_issuer'],
        [{ issuer: undefined }, 'identity_provider.invalid_issuer'],
        [{ url: 'https://login.microsoftonline.com/common' }, 'identity_provider.invalid_url'],
        [{ allowed_tenants: [TENANT] }, 'identity_provider.invalid_allowed_tenants'],
        [{ verified_domains: ['contoso.com'] }, 'identity_provider.invalid_verified_domains'],
      ];
      for (const [overrides, code] of oidcCases) await rejectsWith(rt.directory.identityProviders.create(oidc(overrides)), code, 400);
      const provider = await rt.directory.identityProviders.create(entra());
      await rejectsWith(rt.directory.identityProviders.update(provider.id, { type: 'oidc' } as never), 'identity_provider.invalid_type', 400);
    });

    test('domains are lower-cased, jit groups resolved to ids, and a domain rule belongs to one provider', async () => {
      const group = await rt.directory.groups.create(unique('Newcomers'));
      const domain = `${unique('contoso').toLowerCase()}.com`;
      const provider = await rt.directory.identityProviders.create(
        entra({ first_login: 'create', jit_groups: [group.name.toUpperCase()], verified_domains: [domain.toUpperCase()], home_realm_domains: [` ${domain.toUpperCase()} `] }),
      );
      assert.deepEqual(provider.jit_groups, [group.id]);
      assert.deepEqual(provider.verified_domains, [domain]);
      assert.deepEqual(provider.home_realm_domains, [domain]);
      await rejectsWith(rt.directory.identityProviders.create(oidc({ home_realm_domains: [domain] })), 'identity_provider.domain_taken', 409);
      // Its own rules are not a clash with itself.
      await rt.directory.identityProviders.update(provider.id, { home_realm_domains: [domain, `sub.${domain}`] });

      assert.equal((await rt.directory.identityProviders.byHomeRealmDomain(`Someone@${domain.toUpperCase()}`))?.id, provider.id);
      assert.equal((await rt.directory.identityProviders.byHomeRealmDomain(`x.${domain}`))?.id, undefined);
      assert.equal((await rt.directory.identityProviders.byHomeRealmDomain(`sub.${domain}`))?.id, provider.id);
      await rt.directory.identityProviders.update(provider.id, { enabled: false });
      assert.equal(await rt.directory.identityProviders.byHomeRealmDomain(domain), undefined);
    });

    test('two providers created at once with one domain rule: only one gets it', async () => {
      const domain = `${unique('race').toLowerCase()}.example`;
      const create = () =>
        rt.directory.change({ type: 'cli' }, 'identity_provider.create', (d) => d.identityProviders.create(entra({ home_realm_domains: [domain] })));
      // Connections open first (PostgreSQL), so that the creates really run side by side.
      await Promise.all(Array.from({ length: 8 }, () => rt.directory.identityProviders.list()));
      const results = await Promise.allSettled(Array.from({ length: 8 }, create));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results.map((r) => r.status)));
      const owners = (await rt.directory.identityProviders.list()).filter((p) => p.home_realm_domains.includes(domain));
      assert.equal(owners.length, 1);
    });

    test('a deleted group drops out of a provider’s jit groups (a sign-in never meets a group that is gone)', async () => {
      const [kept, gone] = [await rt.directory.groups.create(unique('Kept')), await rt.directory.groups.create(unique('Gone'))];
      const provider = await rt.directory.identityProviders.create(entra({ first_login: 'create', jit_groups: [kept.id, gone.id] }));
      await rt.directory.groups.delete(gone.id);
      assert.deepEqual((await rt.directory.identityProviders.get(provider.id)).jit_groups, [kept.id]);
      assert.deepEqual((await rt.directory.identityProviders.upstream(provider.id)).provider.jit_groups, [kept.id]);
      assert.deepEqual((await rt.directory.identityProviders.list()).find((p) => p.id === provider.id)?.jit_groups, [kept.id]);
    });

    test('routing: lowest priority of the enabled policies wins; the policies of a disabled provider are passed over; All Users routes everyone', async () => {
      const [early, late] = [await rt.directory.identityProviders.create(entra()), await rt.directory.identityProviders.create(oidc())];
      const [g1, g2] = [await rt.directory.groups.create(unique('Sales')), await rt.directory.groups.create(unique('Support'))];
      const [both, onlyTwo, none] = [await newUser(), await newUser(), await newUser()];
      await rt.directory.groups.addMember(g1.id, both.id);
      await rt.directory.groups.addMember(g2.id, both.id);
      await rt.directory.groups.addMember(g2.id, onlyTwo.id);
      // What a sign-in types (username, email in any case, or id) routes as routeFor routes the person.
      const routed = async (user: User): Promise<string | undefined> => {
        const route = (await rt.directory.routingPolicies.routeFor(user.id))?.id;
        for (const typed of [user.username, user.email.toUpperCase(), user.id]) assert.equal((await rt.directory.routingPolicies.routeForName(typed))?.id, route, typed);
        return route;
      };

      // A provider alone changes nobody's sign-in.
      assert.equal(await routed(both), undefined);

      const p1 = await rt.directory.routingPolicies.create({ name: unique('First'), priority: 10, identity_provider: early.name, user_groups: [g1.name] });
      const p2 = await rt.directory.routingPolicies.create({ name: unique('Second'), priority: 20, identity_provider: late.id, user_groups: [g2.id, g1.id] });
      assert.deepEqual(p1.identity_provider, { id: early.id, name: early.name });
      assert.deepEqual(p1.user_groups, [{ id: g1.id, name: g1.name }]);
      assert.equal(p2.user_groups.length, 2);
      assert.equal(await routed(both), early.id);
      assert.equal(await routed(onlyTwo), late.id);
      assert.equal(await routed(none), undefined);

      // Order changes the winner.
      await rt.directory.routingPolicies.update(p2.id, { priority: 5 });
      assert.equal(await routed(both), late.id);
      assert.deepEqual(
        (await rt.directory.routingPolicies.list()).filter((p) => [p1.id, p2.id].includes(p.id)).map((p) => p.id),
        [p2.id, p1.id],
      );
      // A disabled policy is skipped.
      await rt.directory.routingPolicies.update(p2.id, { enabled: false });
      assert.equal(await routed(both), early.id);
      assert.equal(await routed(onlyTwo), undefined);
      // A disabled provider's policies are passed over like disabled policies: the next one applies.
      await rt.directory.routingPolicies.update(p2.id, { enabled: true });
      await rt.directory.identityProviders.update(late.id, { enabled: false });
      assert.equal(await routed(both), early.id);
      assert.equal(await routed(onlyTwo), undefined);
      await rt.directory.identityProviders.update(late.id, { enabled: true });

      // A provider in use cannot be removed.
      await rejectsWith(rt.directory.identityProviders.remove(early.id), 'identity_provider.in_use', 409);

      // Everyone, through the built-in group, at a priority that beats the others.
      const all = await rt.directory.routingPolicies.create({ name: unique('Everyone'), priority: 0, identity_provider: early.id, user_groups: ['All Users'] });
      assert.equal(await routed(none), early.id);
      assert.equal(await rt.directory.routingPolicies.routeFor('0123456789abcdef01234567'), undefined);
      for (const nobody of ['0123456789abcdef01234567', unique('nobody'), 'no\u0000body']) assert.equal(await rt.directory.routingPolicies.routeForName(nobody), undefined);
      await rt.directory.routingPolicies.remove(all.id);
      assert.equal(await routed(none), undefined);
      await rejectsWith(rt.directory.routingPolicies.get(all.id), 'routing_policy.not_found', 404);

      // Deleting a group takes it out of the policies.
      await rt.directory.groups.delete(g1.id);
      assert.deepEqual((await rt.directory.routingPolicies.get(p2.id)).user_groups, [{ id: g2.id, name: g2.name }]);
      await rt.directory.routingPolicies.remove(p1.id);
      await rt.directory.routingPolicies.remove(p2.id);
      await rt.directory.identityProviders.remove(early.id);
    });

    test('routing policy rules', async () => {
      const provider = await rt.directory.identityProviders.create(entra());
      const group = await rt.directory.groups.create(unique('G'));
      const valid = { name: unique('Policy'), identity_provider: provider.id, user_groups: [group.id] };
      await rejectsWith(rt.directory.routingPolicies.create({ ...valid, name: ' ' }), 'routing_policy.invalid_name', 400);
      await rejectsWith(rt.directory.routingPolicies.create({ ...valid, user_groups: [] }), 'routing_policy.invalid_user_groups', 400);
      await rejectsWith(rt.directory.routingPolicies.create({ ...valid, user_groups: ['nope'] }), 'routing_policy.invalid_user_groups', 400);
      await rejectsWith(rt.directory.routingPolicies.create({ ...valid, identity_provider: 'nope' }), 'routing_policy.invalid_identity_provider', 400);
      await rejectsWith(rt.directory.routingPolicies.create({ ...valid, priority: -1 }), 'routing_policy.invalid_priority', 400);
      await rejectsWith(rt.directory.routingPolicies.create({ ...valid, priority: 1.5 }), 'routing_policy.invalid_priority', 400);
      const policy = await rt.directory.routingPolicies.create(valid);
      assert.equal(policy.enabled, true);
      const next = await rt.directory.routingPolicies.create({ ...valid, name: unique('Later') });
      assert.ok(next.priority > policy.priority, 'without a priority a new policy comes last');
      await rejectsWith(rt.directory.routingPolicies.create({ ...valid, name: valid.name.toUpperCase() }), 'routing_policy.name_taken', 409);
      await rejectsWith(rt.directory.routingPolicies.update(next.id, { name: valid.name }), 'routing_policy.name_taken', 409);
      await rejectsWith(rt.directory.routingPolicies.update(next.id, { user_groups: [] }), 'routing_policy.invalid_user_groups', 400);
      await rt.directory.routingPolicies.remove(policy.id);
      await rt.directory.routingPolicies.remove(next.name);
    });

    test('links: unique per (provider, issuer, subject), listed and removed per user, gone with the user or the provider', async () => {
      const [provider, other] = [await rt.directory.identityProviders.create(entra()), await rt.directory.identityProviders.create(oidc())];
      const [alice, bob] = [await newUser(), await newUser()];
      const link = await rt.directory.identityLinks.create({ user_id: alice.id, identity_provider_id: provider.id, issuer: TENANT, subject: 'oid-1', email: alice.email });
      assert.deepEqual(link.identity_provider, { id: provider.id, name: provider.name });
      assert.equal(link.last_used, null);
      assert.deepEqual(await rt.directory.identityLinks.find(provider.id, TENANT, 'oid-1'), link);
      assert.equal(await rt.directory.identityLinks.find(provider.id, OTHER_TENANT, 'oid-1'), undefined);
      assert.equal(await rt.directory.identityLinks.find(other.id, TENANT, 'oid-1'), undefined);

      // The same upstream identity can't be linked twice, not even to another user.
      await rejectsWith(rt.directory.identityLinks.create({ user_id: bob.id, identity_provider_id: provider.id, issuer: TENANT, subject: 'oid-1' }), 'identity_link.exists', 409);
      // The same subject under another tenant or provider is another identity.
      await rt.directory.identityLinks.create({ user_id: bob.id, identity_provider_id: provider.id, issuer: OTHER_TENANT, subject: 'oid-1' });
      const second = await rt.directory.identityLinks.create({ user_id: alice.id, identity_provider_id: other.id, issuer: 'https://id.example.org', subject: 'oid-1' });

      await rt.directory.identityLinks.touch(link.id);
      assert.ok((await rt.directory.identityLinks.find(provider.id, TENANT, 'oid-1'))?.last_used);
      assert.deepEqual((await rt.directory.identityLinks.listForUser(alice.username)).map((l) => l.id), [link.id, second.id]);

      // A link is removed only through its own user.
      await rejectsWith(rt.directory.identityLinks.remove(bob.id, link.id), 'identity_link.not_found', 404);
      await rt.directory.identityLinks.remove(alice.email, second.id);
      assert.deepEqual((await rt.directory.identityLinks.listForUser(alice.id)).map((l) => l.id), [link.id]);

      // Deleting the user deletes their links.
      await rt.directory.users.delete(alice.id);
      assert.equal(await rt.directory.identityLinks.find(provider.id, TENANT, 'oid-1'), undefined);
      const count = async () => (await rt.storage.db.selectFrom('identity_links').select('id').where('user_id', '=', alice.id).execute()).length;
      assert.equal(await count(), 0);
      // Deleting the provider deletes its links.
      await rt.directory.identityProviders.remove(provider.id);
      assert.equal((await rt.directory.identityLinks.listForUser(bob.id)).length, 0);
    });

    test('usersByEmail finds every user with that email, without regard to case', async () => {
      const email = `${unique('Match')}@Example.COM`;
      const user = await newUser(email);
      assert.deepEqual((await rt.directory.users.usersByEmail(email.toLowerCase())).map((u) => u.id), [user.id]);
      assert.deepEqual((await rt.directory.users.usersByEmail(` ${email.toUpperCase()} `)).map((u) => u.id), [user.id]);
      assert.deepEqual(await rt.directory.users.usersByEmail(`nobody-${email}`), []);
      // A username that looks like the email is not the email.
      const lookalike = `${unique('lookalike')}@example.com`;
      await rt.directory.users.create({ username: lookalike, email: `${unique('real')}@example.com` });
      assert.deepEqual(await rt.directory.users.usersByEmail(lookalike), []);
      assert.deepEqual(await rt.directory.users.usersByEmail(''), []);
      assert.deepEqual(await rt.directory.users.usersByEmail('a\u0000b'), []);
    });

    test('changes made through directory.change can seal secrets, and a refused one writes nothing', async () => {
      const input = entra();
      const provider = await rt.directory.change({ type: 'cli' }, 'identity_provider.create', (d) => d.identityProviders.create(input), (p) => ({ target: { type: 'identity_provider', id: p.id, name: p.name } }));
      assert.equal((await rt.directory.identityProviders.upstream(provider.id)).clientSecret, input.client_secret);
      const before = (await rt.directory.identityProviders.list()).length;
      await rejectsWith(
        rt.directory.change({ type: 'cli' }, 'identity_provider.create', async (d) => {
          await d.identityProviders.create(entra());
          return d.identityProviders.create(entra({ name: input.name }));
        }),
        'identity_provider.name_taken',
        409,
      );
      assert.equal((await rt.directory.identityProviders.list()).length, before);
    });
  });
}
