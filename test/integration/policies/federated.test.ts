/**
 * Access policies after a federated sign-in (issue 12 §3, seed 004): "resource portal, condition
 * federated, deny" keeps people who sign in through Entra out of the user portal while their apps
 * work, and password sign-ins to the portal are untouched; require_mfa is satisfied by an upstream
 * amr that contains mfa, and otherwise asks for a Gatehouse factor.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PORTAL_CLIENT_ID } from '../../../src/directory/console-app.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { parseForms } from '../../helpers/browser.ts';
import { discover, startAuthorization } from '../../helpers/rp.ts';
import {
  type DownstreamApp,
  type EntraWorld,
  FederationBrowser,
  ROUTED_GROUP,
  appSignIn,
  createApp,
  createUser,
  entraPerson,
  startEntraWorld,
} from '../federation/support.ts';

const PASSWORD = 'federated-policy-password-1';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`access policies after a federated sign-in (${kind})`, { skip }, () => {
    let world: EntraWorld;
    let hoop: DownstreamApp;
    let portal: DownstreamApp;

    before(async () => {
      world = await startEntraWorld(kind);
      const { admin, gatehouse } = world;
      hoop = await createApp(gatehouse, admin, { label: 'Hoop', redirectUri: 'https://hoop.example.test/api/callback', groups: ['sre'] });
      const portalRedirect = `${gatehouse.issuer}/callback`;
      portal = { id: 'user-portal', clientId: PORTAL_CLIENT_ID, clientSecret: '', redirectUri: portalRedirect, config: await discover({ issuer: gatehouse.issuer, clientId: PORTAL_CLIENT_ID, authMethod: 'none', redirectUri: portalRedirect }) };
      await createUser(admin, { username: 'alex', email: 'alex@contoso.example', password: PASSWORD, groups: [ROUTED_GROUP, 'sre'] });
      await createUser(admin, { username: 'bo', email: 'bo@contoso.example', password: PASSWORD, groups: [ROUTED_GROUP, 'sre'] });
      await createUser(admin, { username: 'olga', email: 'olga@example.com', password: PASSWORD, groups: ['sre'] });
      entraPerson(world, 'alex@contoso.example', { amr: ['pwd', 'mfa'] });
      entraPerson(world, 'bo@contoso.example', { amr: ['pwd'] });
      const policies = gatehouse.directory.accessPolicies;
      await policies.create({ name: 'No portal after Entra', resource: 'portal', sign_in: 'federated', action: 'deny' });
      await policies.create({ name: 'Hoop needs MFA', resource: 'apps', apps: ['Hoop'], action: 'require_mfa', grace_days: 0 });
    });
    after(() => world?.close());

    test('seed 004: the portal is denied after a federated sign-in; the apps are not; a password sign-in reaches the portal', async () => {
      const browser = new FederationBrowser();
      const denied = await appSignIn(portal, browser, { username: 'alex@contoso.example' });
      assert.ok(denied.outcome.page, 'a page, not the portal');
      assert.equal(denied.outcome.page.status, 403);
      assert.ok(!denied.outcome.page.html.includes('No portal after Entra'));
      const [event] = (await world.gatehouse.directory.audit.list({ action: 'user.access_policy', limit: 1, offset: 0 })).events;
      assert.equal(event?.details.policy, 'No portal after Entra');

      // Hoop requires MFA: Entra's amr has mfa, so no step-up; the ID token keeps the upstream's amr.
      const app = await appSignIn(hoop, browser, { username: 'alex@contoso.example' });
      const tokens = await app.exchange();
      assert.deepEqual(tokens.claims()?.amr, ['pwd', 'mfa']);

      const olga = await appSignIn(portal, new FederationBrowser(), { username: 'olga', password: PASSWORD }, 'openid');
      assert.ok(olga.outcome.callbackUrl, 'a password sign-in reaches the portal');
    });

    test('an upstream amr without mfa does not satisfy require_mfa: a person without a factor must enrol (no grace)', async () => {
      // By hand: the walker would post the enrolment form (it has a `code` field) as a form_post page.
      const browser = new FederationBrowser();
      const start = await startAuthorization(hoop.config, hoop.redirectUri, 'openid');
      const first = await browser.follow(start.url.href, hoop.redirectUri);
      assert.ok(first.response);
      const identify = parseForms(await first.response.text()).find((form) => form.action.endsWith('/identify'));
      assert.ok(identify);
      const step = await browser.submit(first.url, identify, { username: 'bo@contoso.example' }, hoop.redirectUri);
      assert.ok(step.response, `a page, not Hoop: ${step.url}`);
      const html = await step.response.text();
      assert.match(html, /Set up two-step verification/);
      assert.doesNotMatch(html, /Remind me later/);
    });
  });
}
