/**
 * An app asking for MFA (issue 12 §1/§3): discovery lists acr_values_supported; acr_values with
 * urn:gatehouse:mfa (or the PAPE multi-factor URI) gets a step-up instead of a silent single sign-on,
 * or an enrolment for a person without a factor (no grace: the app wants it now); prompt=none gets
 * interaction_required; max_age=0 is no silent pass either; the ID token's acr and amr say what was done.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ACR_MFA, ACR_PAPE_MFA, ACR_SINGLE_FACTOR } from '../../../src/authn/policies.ts';
import { totpCode } from '../../../src/authn/totp.ts';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, client, discover, startAuthorization } from '../../helpers/rp.ts';
import { TOTP_PERIOD_MS, freshTotpStep } from '../../helpers/totp.ts';

const PASSWORD = 'acr-test-password-1';
const REDIRECT = 'https://acr-app.example.test/callback';
const PERIOD_MS = TOTP_PERIOD_MS;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`acr_values and max_age ask for more than a silent single sign-on (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let rp: client.Configuration;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const everyone = await gatehouse.directory.groups.get('All Users');
      const { app, clientSecret } = await gatehouse.directory.apps.create({ label: 'ACR App', redirect_uris: [REDIRECT], auth_method: 'client_secret_basic' });
      await gatehouse.directory.apps.bind(app.id, everyone.id);
      rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT });
      for (const name of ['ada', 'ben']) await gatehouse.directory.users.create({ username: name, email: `${name}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
    });
    after(() => gatehouse?.close());

    const tokensOf = (start: Awaited<ReturnType<typeof startAuthorization>>, callbackUrl: URL) =>
      client.authorizationCodeGrant(rp, callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });

    test('discovery lists the acr values', () => {
      assert.deepEqual(rp.serverMetadata().acr_values_supported, [ACR_SINGLE_FACTOR, ACR_MFA, ACR_PAPE_MFA]);
    });

    test('a password session: acr single-factor; acr_values=mfa steps up (prompt=none: interaction_required); then acr says mfa', async () => {
      const browser = new Browser();
      const first = await startAuthorization(rp, REDIRECT, 'openid');
      const signedIn = await browse(browser, first.url, REDIRECT, { username: 'ada', password: PASSWORD });
      assert.ok(signedIn.callbackUrl);
      const claims = (await tokensOf(first, signedIn.callbackUrl)).claims();
      assert.equal(claims?.acr, ACR_SINGLE_FACTOR);
      assert.deepEqual(claims?.amr, ['pwd']);

      const stepStart = await freshTotpStep();
      const ada = await gatehouse.directory.users.get('ada');
      const { secret } = await gatehouse.runtime.factors.beginTotp(ada.id, { issuer: 'Gatehouse', account: 'ada' });
      await gatehouse.runtime.factors.confirmTotp(ada.id, totpCode(secret, stepStart - PERIOD_MS));

      // Without acr_values, single sign-on stays silent.
      const plain = await startAuthorization(rp, REDIRECT, 'openid', { prompt: 'none' });
      assert.ok(new URL((await browser.follow(plain.url.href, REDIRECT)).url).searchParams.get('code'));

      const silent = await startAuthorization(rp, REDIRECT, 'openid', { prompt: 'none', acr_values: ACR_PAPE_MFA });
      assert.equal(new URL((await browser.follow(silent.url.href, REDIRECT)).url).searchParams.get('error'), 'interaction_required');

      const start = await startAuthorization(rp, REDIRECT, 'openid', { acr_values: ACR_PAPE_MFA });
      const step = await browser.follow(start.url.href, REDIRECT);
      assert.ok(step.response, 'a page, not a silent pass');
      const html = await step.response.text();
      assert.match(html, /Two-step verification/);
      const form = parseForms(html).find((f) => f.action.endsWith('/second-factor'));
      assert.ok(form);
      const done = await browser.submit(step.url, form, { code: totpCode(secret, stepStart) }, REDIRECT);
      assert.ok(!done.response, 'back at the app');
      const stepped = (await tokensOf(start, new URL(done.url))).claims();
      assert.equal(stepped?.acr, ACR_PAPE_MFA, 'in the words the app asked with');
      assert.deepEqual(stepped?.amr, ['pwd', 'otp', 'mfa']);
      const [event] = (await gatehouse.directory.audit.list({ action: 'user.access_policy', limit: 1, offset: 0 })).events;
      assert.equal(event?.details.decision, 'step_up');
      assert.equal(event?.details.policy, 'requested by the app (acr_values)');

      const urn = await startAuthorization(rp, REDIRECT, 'openid', { acr_values: ACR_MFA });
      const again = await browser.follow(urn.url.href, REDIRECT);
      assert.ok(!again.response, 'the session has MFA now: silent');
      assert.equal((await tokensOf(urn, new URL(again.url))).claims()?.acr, ACR_MFA);
    });

    test('acr_values=mfa for a person without a factor: enrolment now, no postponing', async () => {
      const start = await startAuthorization(rp, REDIRECT, 'openid', { acr_values: ACR_MFA });
      const outcome = await browse(new Browser(), start.url, REDIRECT, { username: 'ben', password: PASSWORD });
      assert.ok(outcome.page, 'a page, not a silent pass');
      assert.match(outcome.page.html, /Set up two-step verification/);
      assert.doesNotMatch(outcome.page.html, /Remind me later/);
    });

    test('acr_values=mfa under a require_mfa policy with a grace period: no "Remind me later" for that app', async () => {
      await gatehouse.directory.users.create({ username: 'cy', email: 'cy@example.com', password: PASSWORD, state: 'ACTIVATED' });
      const policy = await gatehouse.directory.accessPolicies.create({ name: 'Everyone MFA', resource: 'all_apps', action: 'require_mfa', grace_days: 30 });
      try {
        const plain = await browse(new Browser(), (await startAuthorization(rp, REDIRECT, 'openid')).url, REDIRECT, { username: 'cy', password: PASSWORD });
        assert.match(plain.page?.html ?? '', /Remind me later/, 'the policy alone may be postponed');
        const start = await startAuthorization(rp, REDIRECT, 'openid', { acr_values: ACR_MFA });
        const asked = await browse(new Browser(), start.url, REDIRECT, { username: 'cy', password: PASSWORD });
        assert.match(asked.page?.html ?? '', /Set up two-step verification/);
        assert.doesNotMatch(asked.page?.html ?? '', /Remind me later/, 'the app asking for MFA may not be put off');
      } finally {
        await gatehouse.directory.accessPolicies.remove(policy.id);
      }
    });

    test('max_age=0 is no silent pass: the person signs in again', async () => {
      const browser = new Browser();
      const first = await startAuthorization(rp, REDIRECT, 'openid');
      assert.ok((await browse(browser, first.url, REDIRECT, { username: 'ben', password: PASSWORD })).callbackUrl);
      const start = await startAuthorization(rp, REDIRECT, 'openid', { max_age: '0' });
      const step = await browser.follow(start.url.href, REDIRECT);
      assert.ok(step.response, 'a sign-in page');
      assert.match(await step.response.text(), /name="username"|name="password"/);
    });
  });
}
