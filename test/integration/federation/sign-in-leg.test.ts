/**
 * The upstream sign-in leg's own guarantees, beside the acceptance tests: a callback is accepted only
 * in the browser that began the flow; the flow's secrets are sealed at rest; the `{tenantid}` issuer
 * template is resolved with the token's tid (never skipped); an unknown signing key makes Gatehouse
 * fetch the provider's keys again, once; `idp` belongs to the session's latest sign-in; the provider
 * test reports what discovery found.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { FEDERATION_CALLBACK_PATH } from '../../../src/federation/types.ts';
import { testIdentityProvider } from '../../../src/federation/upstream.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { client, startAuthorization } from '../../helpers/rp.ts';
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

const PASSWORD = 'sign-in-leg-password-1';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`the federated sign-in leg (${kind})`, { skip }, () => {
    let world: EntraWorld;
    let admin: Admin;
    let app: DownstreamApp;

    before(async () => {
      world = await startEntraWorld(kind);
      admin = world.admin;
      app = await createApp(world.gatehouse, admin, { label: 'Leg app', redirectUri: 'https://leg.example.test/callback', groups: ['staff'] });
    });
    afterEach(() => world?.entra.reset());
    after(() => world?.close());

    test('a callback arriving in another browser is refused (state_invalid) and uses up the flow; nothing is linked', async () => {
      const user = await createUser(admin, { username: 'bea', email: 'bea@contoso.example', password: PASSWORD, groups: [ROUTED_GROUP, 'staff'] });
      entraPerson(world, 'bea@contoso.example');
      const callbackPrefix = `${world.gatehouse.issuer}${CALLBACK_PATH}`;
      const victim = new FederationBrowser();
      const start = await startAuthorization(app.config, app.redirectUri, 'openid email');
      const stopped = await walk(victim, start.url, app.redirectUri, { username: 'bea@contoso.example' }, { stopAtPrefix: callbackPrefix });
      const callbackUrl = stopped.stoppedAt;
      if (!callbackUrl?.startsWith(callbackPrefix)) assert.fail(`the upstream answered at the callback: ${JSON.stringify(stopped).slice(0, 300)}`);

      // An attacker who got hold of the callback URL (code and state) replays it in their own browser.
      const attacker = new FederationBrowser();
      const stolen = await attacker.follow(callbackUrl, app.redirectUri);
      assert.ok(stolen.response, 'the attacker is not sent on to the app');
      assertFailurePage({ page: { url: stolen.url, status: stolen.response.status, html: await stolen.response.text() } }, { status: 400, tryAgain: false, text: /started in another browser/ });
      await assertFederationFailure(admin, 'state_invalid');
      // The flow was consumed by that attempt: the code is worth nothing to anyone now.
      const late = await victim.follow(callbackUrl, app.redirectUri);
      assert.ok(late.response);
      assert.equal(late.response.status, 400);
      assert.deepEqual((await linksOf(admin, user.id)).data, []);
    });

    test('the flow is kept server-side, sealed: neither the state nor the PKCE verifier nor the nonce is stored in clear', async () => {
      entraPerson(world, 'cyd@contoso.example');
      await createUser(admin, { username: 'cyd', email: 'cyd@contoso.example', password: PASSWORD, groups: [ROUTED_GROUP, 'staff'] });
      const browser = new FederationBrowser();
      const start = await startAuthorization(app.config, app.redirectUri, 'openid email');
      const authorizePrefix = `${world.entra.origin}/`;
      const stopped = await walk(browser, start.url, app.redirectUri, { username: 'cyd@contoso.example' }, { stopAtPrefix: authorizePrefix });
      assert.ok(stopped.stoppedAt, 'sent to the upstream');
      const upstream = new URL(stopped.stoppedAt).searchParams;
      const state = upstream.get('state') ?? '';
      const nonce = upstream.get('nonce') ?? '';
      assert.ok(state && nonce);
      assert.equal(upstream.get('code_challenge_method'), 'S256');
      const rows = await world.gatehouse.runtime.storage.db.selectFrom('federation_flows').selectAll().execute();
      assert.ok(rows.length >= 1);
      const stored = JSON.stringify(rows);
      assert.ok(!stored.includes(state), 'no state in clear');
      assert.ok(!stored.includes(nonce), 'no nonce in clear');
      assert.ok(!stored.includes('cyd@contoso.example'), 'no login hint in clear');
      // The binding cookie is HttpOnly and SameSite.
      const jar = browser.jars.get(new URL(world.gatehouse.issuer).origin);
      assert.ok(jar?.has('gatehouse_federation'));
    });

    test('an ID token signed with a key the cached JWKS lacks makes Gatehouse fetch the keys again, once, before refusing', async () => {
      const user = await createUser(admin, { username: 'dov', email: 'dov@contoso.example', password: PASSWORD, groups: [ROUTED_GROUP, 'staff'] });
      entraPerson(world, 'dov@contoso.example');
      // A first sign-in fills the key cache.
      await (await appSignIn(app, new FederationBrowser(), { username: 'dov@contoso.example' })).exchange();
      await admin.ok('DELETE', `/api/users/${user.id}/identities/${(await linksOf(admin, user.id)).data[0]?.id}`, undefined, 204);
      world.entra.resetCounts();
      world.entra.sabotage({ idToken: 'unknown_key' });
      const { outcome } = await appSignIn(app, new FederationBrowser(), { username: 'dov@contoso.example' });
      assertFailurePage(outcome, {});
      await assertFederationFailure(admin, 'token_invalid');
      assert.equal(world.entra.counts.jwks, 1, 'the keys were fetched again exactly once');
      assert.deepEqual((await linksOf(admin, user.id)).data, []);
    });

    test('common with allowed tenants: the {tenantid} issuer is resolved with the token\'s tid, and a link is made on a verified email', async () => {
      const partner = world.entra.addTenant();
      await admin.ok('POST', '/api/identity-providers', {
        name: 'Entra common',
        type: 'entra',
        url: world.entra.tenantUrl('common'),
        allowed_tenants: [partner],
        client_id: world.entraApp.clientId,
        client_secret: world.entraApp.clientSecret,
        home_realm_domains: ['partner-leg.example'],
      });
      const user = await createUser(admin, { username: 'eli', email: 'eli@partner-leg.example', password: PASSWORD, groups: ['staff'] });
      const person = world.entra.addPerson({ tenant: partner, username: 'eli@partner-leg.example', name: 'Eli Partner', email: 'eli@partner-leg.example', xms_edov: true });
      const tokens = await (await appSignIn(app, new FederationBrowser(), { username: 'eli@partner-leg.example' })).exchange();
      assert.equal(tokens.claims()?.sub, user.id);
      assert.equal(tokens.claims()?.idp, 'Entra common');
      const [link] = (await linksOf(admin, user.id)).data;
      assert.equal(link?.issuer, partner);
      assert.equal(link?.subject, person.oid);
      const [signedIn] = await auditEvents(admin, 'federation.sign_in');
      assert.equal(signedIn?.outcome, 'success');
      assert.equal(signedIn?.details.via, 'link_existing');
    });

    test('idp names the session\'s latest sign-in: a password sign-in in the same browser afterwards has none', async () => {
      await admin.ok('POST', '/api/identity-providers', {
        name: 'Entra by domain',
        type: 'entra',
        url: world.entra.tenantUrl(world.tenant),
        client_id: world.entraApp.clientId,
        client_secret: world.entraApp.clientSecret,
        home_realm_domains: ['domain-leg.example'],
      });
      await createUser(admin, { username: 'fay', email: 'fay@domain-leg.example', password: PASSWORD, groups: ['staff'] });
      entraPerson(world, 'fay@domain-leg.example');
      const browser = new FederationBrowser();
      const federated = await (await appSignIn(app, browser, { username: 'fay@domain-leg.example' })).exchange();
      assert.equal(federated.claims()?.idp, 'Entra by domain');
      // Typing the username (no domain rule applies to it) leads to the password step.
      const start = await startAuthorization(app.config, app.redirectUri, 'openid email', { prompt: 'login' });
      const outcome = await walk(browser, start.url, app.redirectUri, { username: 'fay', password: PASSWORD });
      assert.ok(outcome.callbackUrl, `signed in with the password: ${outcome.page?.html.slice(0, 300)}`);
      const tokens = await client.authorizationCodeGrant(app.config, outcome.callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce });
      assert.equal(tokens.claims()?.idp, undefined);
      // The password sign-in's own amr, not the upstream's (issue 12: the ID token always says how).
      assert.deepEqual(tokens.claims()?.amr, ['pwd']);
    });

    test('an upstream that authenticated with a password (amr ["pwd"]) still gives idp, and its amr, on every app of the session', async () => {
      await createUser(admin, { username: 'ida', email: 'ida@contoso.example', password: PASSWORD, groups: [ROUTED_GROUP, 'staff'] });
      entraPerson(world, 'ida@contoso.example', { amr: ['pwd'] });
      const browser = new FederationBrowser();
      const first = await (await appSignIn(app, browser, { username: 'ida@contoso.example' })).exchange();
      assert.equal(first.claims()?.idp, ENTRA_PROVIDER);
      assert.deepEqual(first.claims()?.amr, ['pwd']);
      const second = await createApp(world.gatehouse, admin, { label: 'Leg app two', redirectUri: 'https://leg-two.example.test/callback', groups: ['staff'] });
      const sso = await (await appSignIn(second, browser, { username: 'ida@contoso.example' })).exchange();
      assert.equal(sso.claims()?.idp, ENTRA_PROVIDER);
      assert.deepEqual(sso.claims()?.amr, ['pwd']);
    });

    test('an Entra identity without an email claim is matched by its UPN only when the UPN\'s domain is a verified domain', async () => {
      const provider = await admin.ok('POST', '/api/identity-providers', {
        name: 'Entra by UPN',
        type: 'entra',
        url: world.entra.tenantUrl(world.tenant),
        client_id: world.entraApp.clientId,
        client_secret: world.entraApp.clientSecret,
        home_realm_domains: ['upn-leg.example'],
      });
      const user = await createUser(admin, { username: 'hal', email: 'hal@upn-leg.example', password: PASSWORD, groups: ['staff'] });
      world.entra.addPerson({ tenant: world.tenant, username: 'hal@upn-leg.example', name: 'Hal Upn' });
      const refused = await appSignIn(app, new FederationBrowser(), { username: 'hal@upn-leg.example' });
      assertFailurePage(refused.outcome, { status: 403 });
      await assertFederationFailure(admin, 'unverified_email');
      assert.deepEqual((await linksOf(admin, user.id)).data, []);

      await admin.ok('PATCH', `/api/identity-providers/${provider.id}`, { verified_domains: ['upn-leg.example'] });
      const tokens = await (await appSignIn(app, new FederationBrowser(), { username: 'hal@upn-leg.example' })).exchange();
      assert.equal(tokens.claims()?.sub, user.id);
      assert.equal((await linksOf(admin, user.id)).data.length, 1);
    });

    test('a routed user posting username and password in one request is sent to the provider, the password unchecked', async () => {
      const user = await createUser(admin, { username: 'gus', email: 'gus@contoso.example', password: PASSWORD, groups: [ROUTED_GROUP, 'staff'] });
      const browser = new FederationBrowser();
      const start = await startAuthorization(app.config, app.redirectUri, 'openid email');
      const first = await browser.follow(String(start.url), app.redirectUri);
      const html = (await first.response?.text()) ?? '';
      const csrf = html.match(/name="csrf" value="([^"]+)"/)?.[1] ?? '';
      const login = first.url.replace(/\/?$/, '/login');
      const users = await userCount(admin);
      const response = await browser.request(login, { method: 'POST', body: new URLSearchParams({ csrf, username: 'gus', password: 'not-even-the-password' }) });
      assert.equal(response.status, 303);
      assert.ok(response.headers.get('location')?.startsWith(`${world.entra.origin}/${world.tenant}/`), `to the provider: ${response.headers.get('location')}`);
      const [refused] = (await auditEvents(admin, 'user.sign_in')).filter((event) => event.actor.id === user.id);
      assert.equal(refused?.outcome, 'failure');
      assert.equal(refused?.details.reason, 'password_externally_managed');
      assert.equal(await userCount(admin), users);
    });

    test('the provider test runs discovery and names what it found, and what is wrong', async () => {
      const { directory, issuer } = world.gatehouse;
      const callbackUrl = `${issuer}${FEDERATION_CALLBACK_PATH}`;
      const good = await testIdentityProvider(await directory.identityProviders.upstream(ENTRA_PROVIDER), { callbackUrl });
      assert.deepEqual(good.problems, []);
      assert.equal(good.ok, true);
      assert.equal(good.issuer, world.entra.issuerFor(world.tenant));
      assert.ok(good.keys >= 1);
      assert.equal(good.callback_url, callbackUrl);

      const config = await directory.identityProviders.upstream(ENTRA_PROVIDER);
      const wrongIssuer = await testIdentityProvider({ ...config, provider: { ...config.provider, type: 'oidc', url: null, issuer: `${world.entra.origin}/somebody-else/v2.0` } }, { callbackUrl });
      assert.equal(wrongIssuer.ok, false);
      assert.match(wrongIssuer.problems.join(' '), /issuer/);
      const unreachable = await testIdentityProvider({ ...config, discoveryUrl: 'http://127.0.0.1:9/v2.0/.well-known/openid-configuration' }, { callbackUrl });
      assert.equal(unreachable.ok, false);
      assert.match(unreachable.problems.join(' '), /Discovery .* failed/);
    });
  });
}
