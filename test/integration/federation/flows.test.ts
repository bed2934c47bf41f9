/**
 * Federation end to end (issue 10 §4), through the public surface only: Gatehouse configured with
 * its directory API, people signing in through HTTP across Gatehouse and the upstream provider, and
 * openid-client as the apps. Seed 004's setup: Entra as identity provider, a routing policy on a
 * group, a Gatehouse user whose email is the Entra UPN, a Hoop-configured app with the groups claim.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { CONSOLE_CLIENT_ID } from '../../../src/directory/console-app.ts';
import { call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { EntraPerson } from '../../helpers/entra.ts';
import { client, discover, startAuthorization } from '../../helpers/rp.ts';
import { type UpstreamGatehouse, startUpstreamGatehouse } from '../../helpers/upstream-gatehouse.ts';
import {
  CALLBACK_PATH,
  type DownstreamApp,
  ENTRA_PROVIDER,
  type EntraWorld,
  FederationBrowser,
  ROUTED_GROUP,
  appSignIn,
  auditEvents,
  createApp,
  createUser,
  entraPerson,
  linksOf,
  startEntraWorld,
  walk,
} from './support.ts';

const GROUPS_CLAIM = 'https://app.hoop.dev/groups';
const PASSWORD = 'federation-flows-password-1';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`federated sign-in flows (${kind})`, { skip }, () => {
    let world: EntraWorld;
    let hoop: DownstreamApp;
    let wiki: DownstreamApp;
    let alexUser: { id: string };
    let alex: EntraPerson;

    before(async () => {
      world = await startEntraWorld(kind);
      const { admin } = world;
      hoop = await createApp(world.gatehouse, admin, { label: 'Hoop', redirectUri: 'https://hoop.example.test/api/callback', groups: ['sre', 'developers'], groupsClaim: GROUPS_CLAIM });
      wiki = await createApp(world.gatehouse, admin, { label: 'Wiki', redirectUri: 'https://wiki.example.test/callback', groups: ['sre', 'partners'] });
      // The seed: an existing Gatehouse user whose email is the Entra user's UPN (and contact email).
      alexUser = await createUser(admin, { username: 'alex', email: 'alex@contoso.example', firstname: 'Alex', lastname: 'Wilber', password: PASSWORD, groups: [ROUTED_GROUP, 'sre', 'developers'] });
      alex = entraPerson(world, 'alex@contoso.example', { name: 'Alex Wilber', amr: ['pwd', 'mfa'] });
      await createUser(admin, { username: 'olga', email: 'olga@example.com', password: PASSWORD, groups: ['sre', 'developers'] });
    });
    afterEach(() => world?.entra.reset());
    after(() => world?.close());

    test('seed 004: the provider shows the callback URL to paste into Entra, and a routed user signs in to Hoop through Entra with the groups claim, idp and the upstream amr', async () => {
      const { gatehouse, entra, admin, tenant } = world;
      assert.equal(world.provider.callback_url, `${gatehouse.issuer}${CALLBACK_PATH}`);
      const browser = new FederationBrowser();
      // Typed as the seed's people know themselves: their email. No password is asked for.
      const { exchange } = await appSignIn(hoop, browser, { username: 'alex@contoso.example' });
      const tokens = await exchange();
      const claims = tokens.claims();
      assert.ok(claims);
      assert.equal(claims.sub, alexUser.id);
      assert.equal(claims.email, 'alex@contoso.example');
      assert.deepEqual(claims[GROUPS_CLAIM], ['developers', 'sre']);
      assert.equal(claims.idp, ENTRA_PROVIDER);
      assert.deepEqual(claims.amr, ['pwd', 'mfa']);
      assert.equal(browser.visits(`${gatehouse.issuer}/interaction/`).filter((v) => v.body?.includes('password=')).length, 0, 'no password was posted');

      // The upstream leg: code + PKCE S256 + state + nonce, login_hint and domain_hint, Gatehouse's callback.
      const [authorize, ...more] = browser.visits(`${entra.origin}/${tenant}/oauth2/v2.0/authorize?`);
      assert.ok(authorize);
      assert.equal(more.length, 0);
      const parameters = new URL(authorize.url).searchParams;
      assert.equal(parameters.get('client_id'), world.entraApp.clientId);
      assert.equal(parameters.get('redirect_uri'), `${gatehouse.issuer}${CALLBACK_PATH}`);
      assert.equal(parameters.get('response_type'), 'code');
      assert.equal(parameters.get('code_challenge_method'), 'S256');
      assert.ok(parameters.get('code_challenge'));
      assert.ok(parameters.get('state'));
      assert.ok(parameters.get('nonce'));
      assert.deepEqual(parameters.get('scope')?.split(' ').sort(), ['email', 'openid', 'profile']);
      assert.equal(parameters.get('login_hint'), 'alex@contoso.example');
      assert.equal(parameters.get('domain_hint'), 'contoso.example');

      // The link is stored as (provider, tid, oid), and the user's password is now managed by Entra.
      const links = await linksOf(admin, alexUser.id);
      assert.equal(links.data.length, 1);
      assert.equal(links.data[0]?.issuer, tenant);
      assert.equal(links.data[0]?.subject, alex.oid);
      assert.equal(links.data[0]?.identity_provider.name, ENTRA_PROVIDER);
      assert.equal(links.externally_managed_password, true);
      assert.equal(links.identity_provider?.name, ENTRA_PROVIDER);

      const [signedIn] = await auditEvents(admin, 'federation.sign_in');
      assert.equal(signedIn?.outcome, 'success');
      assert.equal(signedIn?.actor.id, alexUser.id);
      const [linked] = await auditEvents(admin, 'federation.link');
      assert.equal(linked?.outcome, 'success');
      assert.ok(!JSON.stringify(await auditEvents(admin, 'federation.*')).includes(world.entraApp.clientSecret), 'no client secret in the audit log');

      // SSO: the second app, in the same browser, needs neither a password nor a trip to Entra.
      const authorizationsBefore = entra.counts.authorization;
      const second = await (await appSignIn(wiki, browser, { username: 'alex' })).exchange();
      assert.equal(second.claims()?.sub, alexUser.id);
      assert.equal(second.claims()?.idp, ENTRA_PROVIDER, 'the session came from Entra, so its ID tokens say so');
      assert.equal(entra.counts.authorization, authorizationsBefore, 'no second upstream trip');
    });

    test('later sign-ins match only the stored link: a changed email upstream does not move it', async () => {
      const { entra, admin } = world;
      // Make sure the link exists (this test may run alone).
      await (await appSignIn(hoop, new FederationBrowser(), { username: 'alex@contoso.example' })).exchange();
      const original = alex.email;
      alex.email = 'olga@example.com';
      try {
        // Typed as the username: the group routes it; Entra signs in Alex whatever the hint.
        entra.signInAs(alex);
        const tokens = await (await appSignIn(hoop, new FederationBrowser(), { username: 'alex' })).exchange();
        assert.equal(tokens.claims()?.sub, alexUser.id, 'still Alex, not the user whose email Entra now sends');
      } finally {
        alex.email = original;
      }
      assert.equal((await linksOf(admin, alexUser.id)).data.length, 1);
    });

    test('a person outside the policy’s groups still signs in with their password, and identifier-first tells nobody who exists', async () => {
      const { entra, gatehouse } = world;
      const before = entra.counts.authorization;
      // Known or unknown, an identifier that no domain rule routes goes to the same password step.
      for (const username of ['olga', 'nobody-here@example.com']) {
        const { outcome } = await appSignIn(hoop, new FederationBrowser(), { username });
        assert.equal(outcome.page?.status, 200, `${username}: the password step`);
        assert.match(outcome.page?.html ?? '', /name="password"/);
        assert.ok(outcome.page?.url.startsWith(`${gatehouse.issuer}/interaction/`));
      }
      const tokens = await (await appSignIn(hoop, new FederationBrowser(), { username: 'olga', password: PASSWORD })).exchange();
      assert.equal(tokens.claims()?.email, 'olga@example.com');
      assert.equal(tokens.claims()?.idp, undefined, 'no identity provider took part');
      assert.equal(entra.counts.authorization, before, 'nobody went to Entra');
      assert.equal((await linksOf(world.admin, (tokens.claims()?.sub as string) ?? '')).externally_managed_password, false);
    });

    test('the admin console is reached through federation', async () => {
      const { gatehouse, admin } = world;
      await createUser(admin, { username: 'adele', email: 'adele@contoso.example', role: 'administrator', groups: [ROUTED_GROUP] });
      entraPerson(world, 'adele@contoso.example', { name: 'Adele Vance' });
      const redirectUri = `${gatehouse.issuer}/admin/callback`;
      const consoleRp = await discover({ issuer: gatehouse.issuer, clientId: CONSOLE_CLIENT_ID, authMethod: 'none', redirectUri });
      const start = await startAuthorization(consoleRp, redirectUri, 'openid profile email');
      const outcome = await walk(new FederationBrowser(), start.url, redirectUri, { username: 'adele@contoso.example' });
      assert.ok(outcome.callbackUrl, String(outcome.page?.html.slice(0, 500) ?? outcome.stoppedAt));
      const tokens = await client.authorizationCodeGrant(consoleRp, outcome.callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });
      assert.equal(tokens.claims()?.idp, ENTRA_PROVIDER);
      const me = await call(gatehouse, 'GET', '/api/me', undefined, { key: tokens.access_token, bearer: true });
      assert.equal(me.status, 200, me.text);
      assert.equal(me.body.user.username, 'adele');
      assert.equal(me.body.role, 'administrator');
    });

    test('Entra rolling its signing key: the next sign-in fetches the new key (unknown kid) and succeeds', async () => {
      const { entra } = world;
      await createUser(world.admin, { username: 'rolf', email: 'rolf@contoso.example', groups: [ROUTED_GROUP, 'sre'] });
      entraPerson(world, 'rolf@contoso.example');
      await (await appSignIn(hoop, new FederationBrowser(), { username: 'rolf@contoso.example' })).exchange();
      await entra.rotateSigningKey();
      const keysFetched = entra.counts.jwks;
      const tokens = await (await appSignIn(wiki, new FederationBrowser(), { username: 'rolf@contoso.example' })).exchange();
      assert.equal(tokens.claims()?.email, 'rolf@contoso.example');
      assert.ok(entra.counts.jwks > keysFetched, 'the JWKS was fetched again');
    });

    test('verified_domains: an Entra email without xms_edov links when its domain is one the administrator vouches for', async () => {
      const { admin, provider, tenant } = world;
      const vic = await createUser(admin, { username: 'vic', email: 'vic@contoso.example', groups: [ROUTED_GROUP, 'sre'] });
      const person = entraPerson(world, 'vic@contoso.example', { xms_edov: undefined });
      await admin.ok('PATCH', `/api/identity-providers/${provider.id}`, { verified_domains: ['contoso.example'] });
      try {
        const tokens = await (await appSignIn(hoop, new FederationBrowser(), { username: 'vic@contoso.example' })).exchange();
        assert.equal(tokens.claims()?.sub, vic.id);
        const links = await linksOf(admin, vic.id);
        assert.deepEqual(
          links.data.map((link) => [link.issuer, link.subject]),
          [[tenant, person.oid]],
        );
      } finally {
        await admin.ok('PATCH', `/api/identity-providers/${provider.id}`, { verified_domains: [] });
      }
    });

    test('an administrator removes a link (audited); the next sign-in links again by the verified email', async () => {
      const { admin } = world;
      const kai = await createUser(admin, { username: 'kai', email: 'kai@contoso.example', groups: [ROUTED_GROUP, 'sre'] });
      entraPerson(world, 'kai@contoso.example');
      await (await appSignIn(hoop, new FederationBrowser(), { username: 'kai@contoso.example' })).exchange();
      const [link] = (await linksOf(admin, kai.id)).data;
      assert.ok(link);
      await admin.ok('DELETE', `/api/users/${kai.id}/identities/${link.id}`);
      assert.deepEqual((await linksOf(admin, kai.id)).data, []);
      const [unlinked] = await auditEvents(admin, 'federation.unlink');
      assert.equal(unlinked?.outcome, 'success');
      await (await appSignIn(hoop, new FederationBrowser(), { username: 'kai@contoso.example' })).exchange();
      const relinked = (await linksOf(admin, kai.id)).data;
      assert.equal(relinked.length, 1);
      assert.notEqual(relinked[0]?.id, link.id);
    });

    test('multi-tenant Entra (organizations): a person of an allowed tenant signs in; the {tenantid} issuer is resolved with their tid', async () => {
      const { admin, entra } = world;
      const partner = entra.addTenant();
      await admin.ok('POST', '/api/identity-providers', {
        name: 'Entra for partners',
        type: 'entra',
        url: entra.tenantUrl('organizations'),
        allowed_tenants: [partner],
        client_id: world.entraApp.clientId,
        client_secret: world.entraApp.clientSecret,
        home_realm_domains: ['fabrikam.example'],
      });
      const fay = await createUser(admin, { username: 'fay', email: 'fay@fabrikam.example', groups: ['sre'] });
      const person = entra.addPerson({ tenant: partner, username: 'fay@fabrikam.example', name: 'Fay', email: 'fay@fabrikam.example', xms_edov: true });
      const browser = new FederationBrowser();
      const tokens = await (await appSignIn(hoop, browser, { username: 'fay@fabrikam.example' })).exchange();
      assert.equal(tokens.claims()?.sub, fay.id);
      assert.equal(tokens.claims()?.idp, 'Entra for partners');
      assert.equal(browser.visits(`${entra.origin}/organizations/oauth2/v2.0/authorize?`).length, 1);
      assert.deepEqual(
        (await linksOf(admin, fay.id)).data.map((link) => [link.issuer, link.subject]),
        [[partner, person.oid]],
      );
    });

    describe('a second Gatehouse as a generic oidc provider, reached by a domain rule, creating users on first sign-in', () => {
      let upstream: UpstreamGatehouse;
      before(async () => {
        upstream = await startUpstreamGatehouse(kind, { downstreamIssuer: world.gatehouse.issuer });
        await upstream.addPerson({ username: 'uma', email: 'uma@partner.example', firstname: 'Uma', lastname: 'Partner', password: PASSWORD });
        await world.admin.ok('POST', '/api/identity-providers', {
          name: 'Partner Gatehouse',
          type: 'oidc',
          issuer: upstream.issuer,
          client_id: upstream.clientId,
          client_secret: upstream.clientSecret,
          client_auth: 'client_secret_basic',
          home_realm_domains: ['partner.example'],
          first_login: 'create',
          jit_groups: ['partners'],
        });
      });
      after(() => upstream?.close());

      test('someone not yet in the directory signs in upstream and is created, activated, in the JIT groups, linked by (iss, sub)', async () => {
        const { admin } = world;
        const browser = new FederationBrowser();
        // The password is typed at the upstream Gatehouse only.
        const tokens = await (await appSignIn(wiki, browser, { username: 'uma@partner.example', password: PASSWORD })).exchange();
        const claims = tokens.claims();
        assert.equal(claims?.email, 'uma@partner.example');
        assert.equal(claims?.idp, 'Partner Gatehouse');
        assert.ok(browser.visits(`${upstream.issuer}/interaction/`).length > 0, 'signed in at the upstream');

        const user = await admin.ok('GET', `/api/users/${claims?.sub}`);
        assert.equal(user.email, 'uma@partner.example');
        assert.equal(user.firstname, 'Uma');
        assert.equal(user.lastname, 'Partner');
        assert.equal(user.state, 'ACTIVATED');
        const members = await admin.ok('GET', `/api/groups/${(await admin.ok('GET', '/api/groups?search=partners')).data[0].id}/members`);
        assert.ok((members.data as { id: string }[]).some((m) => m.id === user.id), 'in the JIT group');
        const links = await linksOf(admin, user.id);
        assert.equal(links.data.length, 1);
        assert.equal(links.data[0]?.issuer, upstream.issuer);
        const upstreamUma = await upstream.gatehouse.directory.users.get('uma');
        assert.equal(links.data[0]?.subject, upstreamUma.id);
        const [created] = await auditEvents(admin, 'federation.user_created');
        assert.equal(created?.outcome, 'success');

        // The next sign-in uses the link: nobody new.
        const total = (await admin.ok('GET', '/api/users?limit=1')).total;
        const again = await (await appSignIn(wiki, new FederationBrowser(), { username: 'uma@partner.example', password: PASSWORD })).exchange();
        assert.equal(again.claims()?.sub, user.id);
        assert.equal((await admin.ok('GET', '/api/users?limit=1')).total, total);
      });
    });
  });
}
