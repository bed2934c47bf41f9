/**
 * Federation's refusals (issue 10 §4), through the public surface only. Each asserts the page the
 * person sees (a clear page with a way to try again, never a 500), the audit event's reason, and
 * that no user and no link came out of it.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { freePort } from '../../helpers/net.ts';
import { startAuthorization } from '../../helpers/rp.ts';
import {
  type Admin,
  CALLBACK_PATH,
  type DownstreamApp,
  ENTRA_PROVIDER,
  type EntraWorld,
  FederationBrowser,
  ROUTED_GROUP,
  appSignIn,
  assertFailurePage,
  assertFederationFailure,
  auditEvents,
  createApp,
  createUser,
  entraPerson,
  linksOf,
  startEntraWorld,
  userCount,
  walk,
} from './support.ts';

const PASSWORD = 'federation-negatives-password-1';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`federated sign-in refusals (${kind})`, { skip }, () => {
    let world: EntraWorld;
    let admin: Admin;
    let app: DownstreamApp;

    /** A Gatehouse user routed to Entra (by the policy's group) and their Entra twin. */
    async function routedPerson(username: string, options: { entra?: Parameters<typeof entraPerson>[2]; groups?: string[] } = {}) {
      const email = `${username}@contoso.example`;
      const user = await createUser(admin, { username, email, password: PASSWORD, groups: options.groups ?? [ROUTED_GROUP, 'staff'] });
      const person = entraPerson(world, email, options.entra);
      return { user, person, email };
    }

    /** Runs `attempt` and asserts that it created no user and no link for `userIds`. */
    async function createsNothing(userIds: string[], attempt: () => Promise<void>) {
      const users = await userCount(admin);
      await attempt();
      assert.equal(await userCount(admin), users, 'no user was created');
      for (const id of userIds) assert.deepEqual((await linksOf(admin, id)).data, [], 'no link was stored');
    }

    before(async () => {
      world = await startEntraWorld(kind);
      admin = world.admin;
      app = await createApp(world.gatehouse, admin, { label: 'Staff app', redirectUri: 'https://staff.example.test/callback', groups: ['staff'] });
    });
    afterEach(() => world?.entra.reset());
    after(() => world?.close());

    describe('nOAuth: matching never trusts an email that is not verified', () => {
      let partnerTenant: string;
      let victim: { id: string };
      before(async () => {
        partnerTenant = world.entra.addTenant();
        // A multi-tenant provider (Entra's `organizations`) for partners, restricted to two tenants.
        await admin.ok('POST', '/api/identity-providers', {
          name: 'Entra partners',
          type: 'entra',
          url: world.entra.tenantUrl('organizations'),
          allowed_tenants: [world.tenant, partnerTenant],
          client_id: world.entraApp.clientId,
          client_secret: world.entraApp.clientSecret,
          home_realm_domains: ['partners.example'],
        });
        victim = await createUser(admin, { username: 'vera', email: 'vera@contoso.example', password: PASSWORD, groups: ['staff'] });
      });

      test('an identity from another tenant with the victim’s email (even claiming xms_edov) is refused: tenant_not_allowed', async () => {
        const attacker = world.entra.addPerson({ tenant: world.entra.addTenant(), username: 'mallory@evil.example', name: 'Mallory', email: 'vera@contoso.example', xms_edov: true });
        await createsNothing([victim.id], async () => {
          world.entra.signInAs(attacker);
          const { outcome } = await appSignIn(app, new FederationBrowser(), { username: 'someone@partners.example' });
          assertFailurePage(outcome, {});
          await assertFederationFailure(admin, 'tenant_not_allowed');
        });
      });

      test('an allowed tenant’s identity carrying the victim’s email with xms_edov false is refused: unverified_email', async () => {
        const attacker = world.entra.addPerson({ tenant: partnerTenant, username: 'pat@partner.example', name: 'Pat', email: 'vera@contoso.example', xms_edov: false });
        await createsNothing([victim.id], async () => {
          world.entra.signInAs(attacker);
          const { outcome } = await appSignIn(app, new FederationBrowser(), { username: 'pat@partners.example' });
          assertFailurePage(outcome, { text: /ask your administrator/i });
          await assertFederationFailure(admin, 'unverified_email');
        });
      });

      test('a verified email does not link an account the provider is not for (not routed to it, not in its domain rules): not_routed', async () => {
        // Vera signs in with her Gatehouse password (no routing policy covers her, contoso.example is
        // not a domain rule of the partners' provider): an identity there that carries her address,
        // verified or not, must not become a second way into her account.
        const lookalike = world.entra.addPerson({ tenant: partnerTenant, username: 'vera@partner.example', name: 'Vera elsewhere', email: 'vera@contoso.example', xms_edov: true });
        await createsNothing([victim.id], async () => {
          world.entra.signInAs(lookalike);
          const { outcome } = await appSignIn(app, new FederationBrowser(), { username: 'vera@partners.example' });
          assertFailurePage(outcome, { text: /does not sign in with/i });
          await assertFederationFailure(admin, 'not_routed');
        });
      });

      for (const [label, xmsEdov] of [
        ['false', false],
        ['missing', undefined],
      ] as const) {
        test(`xms_edov ${label} and the provider has no verified domains: unverified_email`, async () => {
          const { user, email } = await routedPerson(`edov-${label}`, { entra: { xms_edov: xmsEdov } });
          await createsNothing([user.id], async () => {
            const { outcome } = await appSignIn(app, new FederationBrowser(), { username: email });
            assertFailurePage(outcome, { text: /ask your administrator/i });
            await assertFederationFailure(admin, 'unverified_email');
          });
        });
      }

      test('a generic OpenID provider sending email_verified: false: unverified_email', async () => {
        const tenant = world.entra.addTenant();
        await admin.ok('POST', '/api/identity-providers', {
          name: 'Generic upstream',
          type: 'oidc',
          issuer: world.entra.issuerFor(tenant),
          client_id: world.entraApp.clientId,
          client_secret: world.entraApp.clientSecret,
          client_auth: 'client_secret_post',
          home_realm_domains: ['generic.example'],
        });
        const user = await createUser(admin, { username: 'gene', email: 'gene@generic.example', password: PASSWORD, groups: ['staff'] });
        world.entra.addPerson({ tenant, username: 'gene@generic.example', name: 'Gene', email: 'gene@generic.example', claims: { email_verified: false } });
        await createsNothing([user.id], async () => {
          const { outcome } = await appSignIn(app, new FederationBrowser(), { username: 'gene@generic.example' });
          assertFailurePage(outcome, { text: /ask your administrator/i });
          await assertFederationFailure(admin, 'unverified_email');
        });
      });
    });

    test('first_login create never provisions an account for an unverified email: unverified_email', async () => {
      await admin.ok('POST', '/api/identity-providers', {
        name: 'Entra with JIT',
        type: 'entra',
        url: world.entra.tenantUrl(world.tenant),
        client_id: world.entraApp.clientId,
        client_secret: world.entraApp.clientSecret,
        home_realm_domains: ['jit.example'],
        first_login: 'create',
        jit_groups: ['staff'],
      });
      world.entra.addPerson({ tenant: world.tenant, username: 'newcomer@jit.example', name: 'New Comer', email: 'newcomer@jit.example', xms_edov: false });
      await createsNothing([], async () => {
        const { outcome } = await appSignIn(app, new FederationBrowser(), { username: 'newcomer@jit.example' });
        assertFailurePage(outcome, { text: /ask your administrator/i });
        await assertFederationFailure(admin, 'unverified_email');
      });
      assert.equal((await admin.ok('GET', '/api/users?search=newcomer')).total, 0);
    });

    test('nobody has the identity’s email (link_existing): no_match, no account created', async () => {
      const person = entraPerson(world, 'stranger@contoso.example');
      // Routed by the group of a real user; Entra signs in someone Gatehouse doesn't know.
      const { user, email } = await routedPerson('hint-only');
      await createsNothing([user.id], async () => {
        world.entra.signInAs(person);
        const { outcome } = await appSignIn(app, new FederationBrowser(), { username: email });
        assertFailurePage(outcome, { text: /no gatehouse account/i });
        await assertFederationFailure(admin, 'no_match');
      });
    });

    for (const defect of ['wrong_nonce', 'wrong_aud', 'wrong_iss', 'expired', 'bad_signature', 'unknown_key'] as const) {
      test(`an ID token with ${defect} is refused: token_invalid`, async () => {
        const { user, email } = await routedPerson(`token-${defect.replace('_', '-')}`);
        await createsNothing([user.id], async () => {
          world.entra.sabotage({ idToken: defect });
          const { outcome } = await appSignIn(app, new FederationBrowser(), { username: email });
          assertFailurePage(outcome, {});
          await assertFederationFailure(admin, 'token_invalid');
        });
      });
    }

    test('a forged callback (unknown state) and a replayed one are refused: state_invalid', async () => {
      const { gatehouse } = world;
      await createsNothing([], async () => {
        const forged = await new FederationBrowser().follow(`${gatehouse.issuer}${CALLBACK_PATH}?code=forged-code&state=forged-state`, 'https://never.example.test/');
        assert.ok(forged.response);
        // No sign-in to return to: the page says to start again from the application.
        assertFailurePage({ page: { url: forged.url, status: forged.response.status, html: await forged.response.text() } }, { tryAgain: false, text: /start again/i });
        await assertFederationFailure(admin, 'state_invalid');
      });

      const { user, email } = await routedPerson('replayed');
      const browser = new FederationBrowser();
      await (await appSignIn(app, browser, { username: email })).exchange();
      const [callback] = browser.visits(`${gatehouse.issuer}${CALLBACK_PATH}`);
      assert.ok(callback, 'the upstream answered at the callback');
      const links = (await linksOf(admin, user.id)).data;
      assert.equal(links.length, 1);
      for (const replayer of [browser, new FederationBrowser()]) {
        const users = await userCount(admin);
        const replay = await replayer.follow(callback.url, 'https://never.example.test/', {
          method: callback.method,
          ...(callback.body === undefined ? {} : { body: new URLSearchParams(callback.body) }),
        });
        assert.ok(replay.response, `the replay was not let through to ${replay.url}`);
        assertFailurePage({ page: { url: replay.url, status: replay.response.status, html: await replay.response.text() } }, { tryAgain: false, text: /start again/i });
        await assertFederationFailure(admin, 'state_invalid');
        assert.equal(await userCount(admin), users);
        assert.deepEqual((await linksOf(admin, user.id)).data, links);
      }
    });

    test('two users can never share an email, so linking by email is never ambiguous', async () => {
      // several_matches can't be reached through the public surface: emails are unique,
      // case-insensitively, and no username may equal another user's email.
      await createUser(admin, { username: 'twin-one', email: 'twin@contoso.example', password: PASSWORD });
      const again = await admin.call('POST', '/api/users', { username: 'twin-two', email: 'Twin@Contoso.example' });
      assert.equal(again.status, 409);
      assert.equal(again.body.code, 'user.email_taken');
      const asUsername = await admin.call('POST', '/api/users', { username: 'twin@contoso.example', email: 'other-twin@contoso.example' });
      assert.equal(asUsername.status, 409);
    });

    test('a routed user’s password is refused (sign-in and password changes); they are sent to their provider', async () => {
      const { gatehouse, entra } = world;
      const { user } = await routedPerson('paula');
      const browser = new FederationBrowser();
      // Straight to the one-request form (username and password together, as password managers do).
      const start = await startAuthorization(app.config, app.redirectUri, 'openid email profile');
      const page = await browser.follow(start.url.href, app.redirectUri);
      assert.equal(page.response?.status, 200);
      assert.ok(page.url.startsWith(`${gatehouse.issuer}/interaction/`), page.url);
      const html = (await page.response?.text()) ?? '';
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
      assert.ok(csrf, 'the sign-in page has a csrf field');
      const uid = new URL(page.url).pathname.split('/')[2];
      const attempt = await browser.follow(`${gatehouse.issuer}/interaction/${uid}/login`, entra.origin, {
        method: 'POST',
        body: new URLSearchParams({ csrf, username: 'paula', password: PASSWORD }),
      });
      assert.ok(attempt.url.startsWith(entra.origin), `sent to Entra, not signed in: ${attempt.url}`);
      const [refused] = (await auditEvents(admin, 'user.sign_in')).filter((e) => e.outcome === 'failure');
      assert.equal(refused?.details.reason, 'password_externally_managed');
      assert.equal(refused?.actor.id, user.id);

      const change = await admin.call('PUT', `/api/users/${user.id}/password`, { password: 'a-new-password-123' });
      assert.equal(change.status, 409, change.text);
      assert.equal(change.body.code, 'user.password_externally_managed');
    });

    test('a suspended user is refused after the upstream sign-in: suspended', async () => {
      const { user, email } = await routedPerson('sam');
      await admin.ok('POST', `/api/users/${user.id}/suspend`, undefined, 200);
      await createsNothing([user.id], async () => {
        const { outcome } = await appSignIn(app, new FederationBrowser(), { username: email });
        assertFailurePage(outcome, { tryAgain: false });
        await assertFederationFailure(admin, 'suspended');
      });
    });

    test('a user not assigned to the app is refused: not_assigned', async () => {
      const { user, email } = await routedPerson('nina', { groups: [ROUTED_GROUP] });
      await createsNothing([user.id], async () => {
        const { outcome } = await appSignIn(app, new FederationBrowser(), { username: email });
        assertFailurePage(outcome, { status: 403, tryAgain: false });
        await assertFederationFailure(admin, 'not_assigned');
      });
    });

    test('a provider disabled while someone is upstream refuses the callback (provider_disabled), and routes nobody while disabled', async () => {
      const { entra, provider } = world;
      const { user, email } = await routedPerson('dora');
      await createsNothing([user.id], async () => {
        const browser = new FederationBrowser();
        const flow = await startAuthorization(app.config, app.redirectUri, 'openid email profile');
        const upstream = await walk(browser, flow.url, app.redirectUri, { username: email }, { stopAtPrefix: entra.origin });
        assert.ok(upstream.stoppedAt, 'on the way to Entra');
        await admin.ok('PATCH', `/api/identity-providers/${provider.id}`, { enabled: false });
        try {
          const outcome = await walk(browser, upstream.stoppedAt, app.redirectUri, { username: email });
          assertFailurePage(outcome, {});
          await assertFederationFailure(admin, 'provider_disabled');
          // While disabled, the identifier step sends nobody there: Dora gets the password step.
          const { outcome: identified } = await appSignIn(app, new FederationBrowser(), { username: email });
          assert.equal(identified.page?.status, 200);
          assert.match(identified.page?.html ?? '', /name="password"/);
        } finally {
          await admin.ok('PATCH', `/api/identity-providers/${provider.id}`, { enabled: true });
        }
      });
    });

    test('the upstream answering error=access_denied: upstream_error', async () => {
      const { user, email } = await routedPerson('denied');
      await createsNothing([user.id], async () => {
        world.entra.sabotage({ authorizationError: 'access_denied' });
        const { outcome } = await appSignIn(app, new FederationBrowser(), { username: email });
        assertFailurePage(outcome, {});
        await assertFederationFailure(admin, 'upstream_error');
      });
    });

    test('the upstream’s token endpoint dropping the connection: upstream_error', async () => {
      const { user, email } = await routedPerson('dropped');
      await createsNothing([user.id], async () => {
        world.entra.sabotage({ tokenEndpointDown: true });
        const { outcome } = await appSignIn(app, new FederationBrowser(), { username: email });
        assertFailurePage(outcome, {});
        await assertFederationFailure(admin, 'upstream_error');
      });
    });

    test('the upstream’s token endpoint slower than 10 s: given up on, upstream_error', async () => {
      const { user, email } = await routedPerson('slow');
      await createsNothing([user.id], async () => {
        world.entra.sabotage({ tokenDelayMs: 15_000 });
        const started = Date.now();
        const { outcome } = await appSignIn(app, new FederationBrowser(), { username: email });
        const elapsed = Date.now() - started;
        // Gatehouse gives up after 10 s, well before the answer would come.
        assert.ok(elapsed >= 9_000 && elapsed < 14_000, `gave up after ${elapsed} ms`);
        assertFailurePage(outcome, {});
        await assertFederationFailure(admin, 'upstream_error');
      });
    });

    test('a misconfigured provider (a client secret Entra refuses): upstream_error, and the page does not show the secret', async () => {
      const { provider } = world;
      const { user, email } = await routedPerson('wrong-secret');
      await admin.ok('PATCH', `/api/identity-providers/${provider.id}`, { client_secret: 'not-the-secret-entra-knows' });
      try {
        await createsNothing([user.id], async () => {
          const { outcome } = await appSignIn(app, new FederationBrowser(), { username: email });
          assertFailurePage(outcome, {});
          assert.ok(!outcome.page?.html.includes('not-the-secret-entra-knows'));
          await assertFederationFailure(admin, 'upstream_error');
        });
      } finally {
        await admin.ok('PATCH', `/api/identity-providers/${provider.id}`, { client_secret: world.entraApp.clientSecret });
      }
    });

    test('an upstream that cannot be reached at all: upstream_error at the identifier step', async () => {
      const closedPort = await freePort();
      await admin.ok('POST', '/api/identity-providers', {
        name: 'Unreachable upstream',
        type: 'oidc',
        issuer: `http://127.0.0.1:${closedPort}`,
        client_id: 'unreachable',
        client_secret: 'unreachable-secret',
        home_realm_domains: ['unreachable.example'],
        first_login: 'create',
      });
      await createsNothing([], async () => {
        const { outcome } = await appSignIn(app, new FederationBrowser(), { username: 'someone@unreachable.example' });
        assertFailurePage(outcome, {});
        await assertFederationFailure(admin, 'upstream_error');
      });
    });

    test('the provider’s name, not its secret, is all the failures tell', async () => {
      const text = JSON.stringify(await auditEvents(admin, 'federation.*'));
      assert.ok(!text.includes(world.entraApp.clientSecret));
      assert.ok(text.includes(ENTRA_PROVIDER));
    });
  });
}
