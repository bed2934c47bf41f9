/**
 * Passkeys and security keys in a real browser (issue 12 §1, §5): Chromium's virtual authenticator
 * (CDP WebAuthn domain, through playwright-core) registers a credential from a page at the issuer's
 * origin with options from the self-service API (the portal's enrolment UI comes later), then signs
 * in to an app with the passkey alone, and with a security key after the password; the ID token's
 * amr says which. A removed credential and a suspended person's passkey get nowhere.
 *
 * The issuer is http://localhost:<port>: WebAuthn needs a secure context and a domain as RP ID
 * (an IP address is none), and localhost is both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { call } from '../helpers/api.ts';
import { type Chromium, launchChromium } from '../helpers/chromium.ts';
import { DATABASE_KINDS } from '../helpers/databases.ts';
import type { TestGatehouse } from '../helpers/gatehouse.ts';
import { portalSignIn } from '../helpers/portal.ts';
import { client, discover, startAuthorization } from '../helpers/rp.ts';
import { type Authenticator, startLocalhostGatehouse, withAuthenticator } from '../helpers/webauthn.ts';

const PASSWORD = 'correct-horse-battery-staple-9';
const REDIRECT = 'https://passkey-app.example.test/callback';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`passkeys and security keys in Chromium (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let chromium: Chromium;
    let rp: client.Configuration;
    let serial = 0;

    before(async () => {
      gatehouse = await startLocalhostGatehouse(kind);
      chromium = await launchChromium();
      const everyone = await gatehouse.directory.groups.get('All Users');
      const { app, clientSecret } = await gatehouse.directory.apps.create({ label: 'Passkey App', redirect_uris: [REDIRECT], auth_method: 'client_secret_basic' });
      await gatehouse.directory.apps.bind(app.id, everyone.id);
      rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT });
    });
    after(async () => {
      await chromium?.close();
      await gatehouse?.close();
    });

    async function person() {
      const username = `passkeyuser${++serial}`;
      const user = await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
      const { accessToken } = await portalSignIn(gatehouse, username, PASSWORD);
      const as = (method: string, path: string, body?: unknown) => call(gatehouse, method, path, body, { key: accessToken, bearer: true });
      return { user, username, as };
    }

    /**
     * Registers the profile's authenticator for the person: options from the API, then
     * navigator.credentials.create (through @simplewebauthn/browser) on a page at the issuer's origin.
     */
    async function register(authenticator: Authenticator, as: Awaited<ReturnType<typeof person>>['as'], name: string) {
      const options = await as('POST', '/api/me/passkeys/options');
      assert.equal(options.status, 200, options.text);
      await authenticator.page.goto(`${gatehouse.issuer}/healthz`);
      await authenticator.page.addScriptTag({ url: `${gatehouse.issuer}/webauthn/simplewebauthn-browser.js` });
      const response = await authenticator.page.evaluate(
        // biome-ignore lint/suspicious/noExplicitAny: the bundle's global, in the page
        (optionsJSON) => (globalThis as any).SimpleWebAuthnBrowser.startRegistration({ optionsJSON }),
        options.body,
      );
      const added = await as('POST', '/api/me/passkeys', { name, response });
      assert.equal(added.status, 201, added.text);
      return added.body.passkey as { id: string; device_type: string };
    }

    /** Starts a sign-in to the app in the page; resolves with the callback URL the app got, if it got one. */
    async function signInStart(page: Page) {
      const start = await startAuthorization(rp, REDIRECT, 'openid profile');
      let callback: URL | undefined;
      await page.route(`${REDIRECT}**`, async (route) => {
        callback = new URL(route.request().url());
        await route.fulfill({ status: 200, contentType: 'text/html', body: '<title>App</title><h1>Signed in</h1>' });
      });
      await page.goto(start.url.href);
      return { start, callback: () => callback };
    }

    async function amrOf(start: Awaited<ReturnType<typeof startAuthorization>>, callbackUrl: URL) {
      const tokens = await client.authorizationCodeGrant(rp, callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });
      return tokens.claims()?.amr;
    }

    test('a passkey registered through the API signs in to an app alone (amr hwk, user, mfa); removed, it no longer does', async () => {
      const authenticator = await withAuthenticator(chromium, 'platform');
      try {
        const { as } = await person();
        const passkey = await register(authenticator, as, 'This laptop');
        const { credentials } = await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.authenticatorId });
        assert.equal(credentials.length, 1);
        assert.equal(credentials[0]?.isResidentCredential, true, 'a discoverable credential (a passkey)');

        // Conditional UI: the passkey is offered in the username field's autofill, and the virtual
        // authenticator (its only passkey, presence simulated) answers as soon as the page asks.
        const { page, cdp, authenticatorId } = authenticator;
        const { start, callback } = await signInStart(page);
        await page.getByRole('heading', { name: 'Signed in' }).waitFor();
        const callbackUrl = callback();
        assert.ok(callbackUrl?.searchParams.get('code'), 'the app got a code');
        assert.deepEqual(await amrOf(start, callbackUrl!), ['hwk', 'user', 'mfa']);

        // The button, on a page showing an error (where autofill is not started again).
        await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: false });
        // Signed out (a new browser session), so that the app's next request asks again.
        await authenticator.context.clearCookies();
        await page.unroute(`${REDIRECT}**`);
        const viaButton = await signInStart(page);
        assert.equal(await page.getByLabel('Username or email').getAttribute('autocomplete'), 'username webauthn');
        await page.evaluate(() => {
          // biome-ignore lint/suspicious/noExplicitAny: the page's DOM (no DOM types here)
          const form = (globalThis as any).document.getElementById('passkey-form');
          form.elements.namedItem('response').value = '{}';
          form.submit();
        });
        await page.getByRole('alert').filter({ hasText: 'could not be used to sign in' }).waitFor();
        assert.equal(await page.locator('#passkey-form').getAttribute('data-autofill'), 'false');
        await cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled: true });
        await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
        await page.getByRole('heading', { name: 'Signed in' }).waitFor();
        assert.deepEqual(await amrOf(viaButton.start, viaButton.callback()!), ['hwk', 'user', 'mfa']);

        // Removed through the API (confirmed with a recovery code), the passkey left in the authenticator gets nowhere.
        const proof = (await as('POST', '/api/me/passkeys/verification-options')).body;
        await page.goto(`${gatehouse.issuer}/healthz`);
        await page.addScriptTag({ url: `${gatehouse.issuer}/webauthn/simplewebauthn-browser.js` });
        // biome-ignore lint/suspicious/noExplicitAny: the bundle's global, in the page
        const assertion = await page.evaluate((optionsJSON) => (globalThis as any).SimpleWebAuthnBrowser.startAuthentication({ optionsJSON }), proof);
        assert.equal((await as('DELETE', `/api/me/passkeys/${passkey.id}`, { response: assertion })).status, 204);

        await authenticator.context.clearCookies();
        await page.unroute(`${REDIRECT}**`);
        const again = await signInStart(page);
        await page.getByRole('alert').filter({ hasText: 'could not be used to sign in' }).waitFor();
        assert.equal(again.callback(), undefined);
      } finally {
        await authenticator.context.close();
      }
    });

    test('a security key as second factor after the password (amr pwd, hwk, mfa)', async () => {
      const authenticator = await withAuthenticator(chromium, 'security-key');
      try {
        const { username, as } = await person();
        const key = await register(authenticator, as, 'YubiKey');
        assert.equal(key.device_type, 'single_device');

        const { page } = authenticator;
        const { start, callback } = await signInStart(page);
        await page.getByLabel('Username or email').fill(username);
        await page.getByRole('button', { name: 'Continue', exact: true }).click();
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
        await page.getByRole('button', { name: 'Use your security key or passkey' }).click();
        await page.getByRole('heading', { name: 'Signed in' }).waitFor();
        const callbackUrl = callback();
        assert.ok(callbackUrl);
        assert.deepEqual(await amrOf(start, callbackUrl), ['pwd', 'hwk', 'mfa']);
      } finally {
        await authenticator.context.close();
      }
    });

    test('another person’s security key on the second-factor page, and a suspended person’s passkey, are refused', async () => {
      const mine = await withAuthenticator(chromium, 'security-key');
      const theirs = await withAuthenticator(chromium, 'security-key');
      const suspendedOnes = await withAuthenticator(chromium, 'platform');
      try {
        const owner = await person();
        await register(mine, owner.as, 'Owner key');
        const other = await person();
        await register(theirs, other.as, 'Other key');

        // The other person's password, then an assertion the owner's key really signed for this
        // interaction's challenge (the options' key list swapped for the owner's key).
        const { page } = mine;
        const { callback } = await signInStart(page);
        await page.getByLabel('Username or email').fill(other.username);
        await page.getByRole('button', { name: 'Continue', exact: true }).click();
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
        const { credentials } = await mine.cdp.send('WebAuthn.getCredentials', { authenticatorId: mine.authenticatorId });
        const ownerCredential = Buffer.from(credentials[0]?.credentialId ?? '', 'base64').toString('base64url');
        await page.evaluate(async (credentialId) => {
          // biome-ignore lint/suspicious/noExplicitAny: the page's DOM and the bundle's global (no DOM types here)
          const inPage = globalThis as any;
          const form = inPage.document.getElementById('passkey-form');
          const csrf = form.elements.namedItem('csrf').value;
          const options = await (await inPage.fetch(form.dataset.options, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ csrf }) })).json();
          options.allowCredentials = [{ id: credentialId, type: 'public-key' }];
          const answer = await inPage.SimpleWebAuthnBrowser.startAuthentication({ optionsJSON: options });
          form.elements.namedItem('response').value = JSON.stringify(answer);
          form.submit();
        }, ownerCredential);
        await page.getByRole('alert').filter({ hasText: 'could not be verified' }).waitFor();
        assert.equal(callback(), undefined);

        const suspended = await person();
        await register(suspendedOnes, suspended.as, 'Phone');
        await gatehouse.directory.users.suspend(suspended.user.id);
        const attempt = await signInStart(suspendedOnes.page);
        await suspendedOnes.page.getByRole('alert').filter({ hasText: 'could not be used to sign in' }).waitFor();
        assert.equal(attempt.callback(), undefined);
      } finally {
        await mine.context.close();
        await theirs.context.close();
        await suspendedOnes.context.close();
      }
    });
  });
}
