/**
 * The portal's Security page in Chromium (issue 12 §2, §5), the server on both databases: a person
 * sets up an authenticator app (QR code as an image, the secret read from the page, codes computed
 * from it), saves the recovery codes shown once, signs out, and signs in to an app with password +
 * code (amr pwd, otp, mfa), then once with a recovery code (a second time refused); they make new
 * codes and remove the app with a code. With Chromium's virtual authenticator they add a passkey in
 * the portal, sign out, and sign in to an app with the passkey alone (amr hwk, user, mfa), rename and
 * remove it (proved with the passkey itself); a security key added there serves as second factor
 * (amr pwd, hwk, mfa). Removing the last factor while a policy requires MFA shows the policy's
 * reason; the password change offers "Sign out my other sessions", checked. axe-core checks each state.
 *
 * The issuer is http://localhost:<port> (test/helpers/webauthn.ts): WebAuthn needs it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { totpCode } from '../../src/authn/totp.ts';
import { assertAccessible } from '../helpers/axe.ts';
import { type Chromium, launchChromium } from '../helpers/chromium.ts';
import { submitSignIn } from '../helpers/console.ts';
import { DATABASE_KINDS } from '../helpers/databases.ts';
import type { TestGatehouse } from '../helpers/gatehouse.ts';
import { client, discover, startAuthorization } from '../helpers/rp.ts';
import { type Authenticator, startLocalhostGatehouse, withAuthenticator } from '../helpers/webauthn.ts';
import { TOTP_PERIOD_MS, freshTotpStep } from '../helpers/totp.ts';

const PASSWORD = 'correct-horse-battery-staple-9';
const REDIRECT = 'https://security-app.example.test/callback';
const PERIOD_MS = TOTP_PERIOD_MS;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`the portal's Security page: authenticator app, recovery codes, passkeys (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let chromium: Chromium;
    let rp: client.Configuration;
    let serial = 0;
    const authenticators: Authenticator[] = [];

    before(async () => {
      gatehouse = await startLocalhostGatehouse(kind);
      chromium = await launchChromium();
      const everyone = await gatehouse.directory.groups.get('All Users');
      const { app, clientSecret } = await gatehouse.directory.apps.create({ label: 'Security App', redirect_uris: [REDIRECT], auth_method: 'client_secret_basic' });
      await gatehouse.directory.apps.bind(app.id, everyone.id);
      rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT });
    });
    after(async () => {
      for (const authenticator of authenticators) await authenticator.context.close().catch(() => undefined);
      await chromium?.close();
      await gatehouse?.close();
    });

    /** A new person, and a browser profile (with a virtual authenticator of that kind) on their portal's Security page. */
    async function personOnSecurityPage(authenticatorKind: 'platform' | 'security-key' = 'platform') {
      const username = `secuser${++serial}`;
      const user = await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
      const authenticator = await withAuthenticator(chromium, authenticatorKind);
      authenticators.push(authenticator);
      const { page } = authenticator;
      await page.goto(`${gatehouse.issuer}/security`);
      await page.waitForURL(/\/interaction\//);
      await submitSignIn(page, username, PASSWORD);
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      return { user, username, authenticator, page };
    }

    const row = (page: Page, name: string) => page.getByRole('listitem', { name, exact: true });

    async function signOutOfPortal(page: Page) {
      await page.getByRole('button', { name: /account menu/ }).click();
      await page.getByRole('menuitem', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'You have signed out' }).waitFor();
    }

    /** Starts a sign-in to the app in the page; the app's callback is caught, not fetched. */
    async function signInToApp(page: Page) {
      const start = await startAuthorization(rp, REDIRECT, 'openid profile');
      let callback: URL | undefined;
      await page.unroute(`${REDIRECT}**`);
      await page.route(`${REDIRECT}**`, async (route) => {
        callback = new URL(route.request().url());
        await route.fulfill({ status: 200, contentType: 'text/html', body: '<title>App</title><h1>Signed in to the app</h1>' });
      });
      await page.goto(start.url.href);
      const amr = async () => {
        await page.getByRole('heading', { name: 'Signed in to the app' }).waitFor();
        assert.ok(callback?.searchParams.get('code'), 'the app got a code');
        const tokens = await client.authorizationCodeGrant(rp, callback as URL, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });
        return tokens.claims()?.amr;
      };
      return { amr, callback: () => callback };
    }

    /** The recovery codes dialog: its codes, after checking what it says; then closed. */
    async function saveRecoveryCodes(page: Page, screen: string): Promise<string[]> {
      const dialog = page.getByRole('dialog', { name: 'Save your recovery codes' });
      await dialog.waitFor();
      await dialog.getByText('They will not be shown again').waitFor();
      const codes = (await dialog.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allTextContents()).map((code) => code.trim());
      assert.equal(codes.length, 10);
      assert.equal(new Set(codes).size, 10);
      await assertAccessible(page, screen);
      const download = page.waitForEvent('download');
      await dialog.getByRole('button', { name: 'Download .txt' }).click();
      const file = await download;
      assert.equal(file.suggestedFilename(), 'gatehouse-recovery-codes.txt');
      const text = await readFile(await file.path(), 'utf8');
      for (const code of codes) assert.ok(text.includes(code), 'every code is in the file');
      await dialog.getByRole('button', { name: 'I have saved them' }).click();
      await dialog.waitFor({ state: 'hidden' });
      return codes;
    }

    test('an authenticator app set up in the portal: QR code, secret, codes; then password + code, a recovery code once, new codes, removal', async () => {
      const { page, username } = await personOnSecurityPage();
      await assertAccessible(page, 'security, nothing set up');
      const app = row(page, 'Authenticator app');
      await app.getByText('Not set up').waitFor();
      await app.getByRole('button', { name: 'Set up' }).click();
      await app.getByRole('button', { name: 'Start' }).click();

      const qr = app.getByRole('img', { name: 'QR code to scan with your authenticator app' });
      await qr.waitFor();
      const src = (await qr.getAttribute('src')) ?? '';
      assert.match(src, /^data:image\/svg\+xml;base64,/, 'the QR code is an image of the SVG, not markup in the page');
      assert.match(Buffer.from(src.split(',')[1] ?? '', 'base64').toString('utf8'), /<svg/);
      assert.equal(await app.locator('svg path[fill]').count(), 0, 'no QR SVG parsed into the page');
      const secret = await app.getByRole('textbox', { name: 'Secret key' }).inputValue();
      assert.match(secret, /^[A-Z2-7]{16,}$/);
      await app.getByRole('button', { name: 'Copy Secret key' }).waitFor();
      await assertAccessible(page, 'authenticator app set-up');

      // A wrong code is refused in the server's words; the right one sets it up.
      await app.getByLabel(/Enter the 6-digit code/).fill('000000');
      await app.getByRole('button', { name: 'Confirm' }).click();
      await app.getByRole('alert').filter({ hasText: 'Not set up yet' }).waitFor();
      await freshTotpStep(10_000);
      await app.getByLabel(/Enter the 6-digit code/).fill(totpCode(secret, Date.now()));
      await app.getByRole('button', { name: 'Confirm' }).click();
      const codes = await saveRecoveryCodes(page, 'recovery codes after the first factor');
      await app.getByText('Set up', { exact: true }).waitFor();
      await app.getByText(/^Set up .+\./).waitFor();
      await row(page, 'Recovery codes').getByText('10 of 10 left').waitFor();
      await assertAccessible(page, 'security, authenticator app set up');

      // Signed out, then into an app: the password, then a code (the next step's: this one was used).
      await signOutOfPortal(page);
      const withCode = await signInToApp(page);
      await submitSignIn(page, username, PASSWORD);
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      await assertAccessible(page, 'second-factor page');
      await page.getByLabel('Code from your authenticator app').fill(totpCode(secret, Date.now() + PERIOD_MS));
      await page.getByRole('button', { name: 'Verify' }).click();
      assert.deepEqual(await withCode.amr(), ['pwd', 'otp', 'mfa']);

      // A recovery code works once: the page says how many are left.
      await page.context().clearCookies();
      const withRecovery = await signInToApp(page);
      await submitSignIn(page, username, PASSWORD);
      await page.getByLabel('Code from your authenticator app').fill(codes[0] ?? '');
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByText('You have 9 recovery codes left').waitFor();
      await page.getByRole('link', { name: 'Continue' }).click();
      const amr = (await withRecovery.amr()) as string[] | undefined;
      assert.ok(amr?.includes('pwd') && amr.includes('mfa'), `amr ${amr}`);

      await page.context().clearCookies();
      const again = await signInToApp(page);
      await submitSignIn(page, username, PASSWORD);
      await page.getByLabel('Code from your authenticator app').fill(codes[0] ?? '');
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('alert').filter({ hasText: 'not right' }).waitFor();
      assert.equal(again.callback(), undefined, 'a used recovery code is refused');

      // Back in the portal, through a recovery code.
      await page.goto(`${gatehouse.issuer}/security`);
      await page.waitForURL(/\/interaction\//);
      await submitSignIn(page, username, PASSWORD);
      await page.getByLabel('Code from your authenticator app').fill(codes[1] ?? '');
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.getByRole('link', { name: 'Continue' }).click();
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      await row(page, 'Recovery codes').getByText('8 of 10 left').waitFor();
      await row(page, 'Authenticator app').getByText(/Last used/).waitFor();

      // New codes replace the old ones.
      await row(page, 'Recovery codes').getByRole('button', { name: 'Create new codes' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Create new codes' }).click();
      const fresh = await saveRecoveryCodes(page, 'new recovery codes');
      assert.ok(!fresh.includes(codes[2] ?? ''));
      await row(page, 'Recovery codes').getByText('10 of 10 left').waitFor();

      // Removal needs proof: a wrong code is refused, a recovery code works.
      await row(page, 'Authenticator app').getByRole('button', { name: 'Remove' }).click();
      const proof = page.getByRole('dialog', { name: 'Remove authenticator app' });
      await proof.getByLabel(/Code from your authenticator app/).fill('123456');
      await proof.getByRole('button', { name: 'Remove', exact: true }).click();
      await proof.getByRole('alert').filter({ hasText: 'not right' }).waitFor();
      await assertAccessible(page, 'removal refused');
      await proof.getByLabel(/Code from your authenticator app/).fill(fresh[0] ?? '');
      await proof.getByRole('button', { name: 'Remove', exact: true }).click();
      await proof.waitFor({ state: 'hidden' });
      await row(page, 'Authenticator app').getByText('Not set up').waitFor();
    });

    test('a passkey added in the portal signs in to an app alone (amr hwk, user, mfa); renamed, then removed with itself as proof', async () => {
      const { page, authenticator } = await personOnSecurityPage('platform');
      const keys = row(page, 'Passkeys and security keys');
      await keys.getByRole('button', { name: 'Add a passkey or security key' }).click();
      await keys.getByLabel('Name').fill('This laptop');
      await assertAccessible(page, 'naming a passkey');
      await keys.getByRole('button', { name: 'Continue' }).click();
      await saveRecoveryCodes(page, 'recovery codes after the first passkey');
      const table = keys.getByRole('table', { name: 'Your passkeys and security keys' });
      await table.getByRole('row', { name: /This laptop/ }).waitFor();
      const { credentials } = await authenticator.cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator.authenticatorId });
      assert.equal(credentials.length, 1);
      assert.equal(credentials[0]?.isResidentCredential, true, 'a discoverable credential (a passkey)');

      await table.getByRole('button', { name: 'Rename This laptop' }).click();
      await table.getByLabel('New name').fill('Work laptop');
      await table.getByRole('button', { name: 'Save' }).click();
      await table.getByRole('row', { name: /Work laptop/ }).waitFor();
      assert.equal(await table.getByRole('row', { name: /Never/ }).count(), 1, 'not used yet');
      await assertAccessible(page, 'passkeys list');

      // Signed out; the app's sign-in page offers the passkey (autofill), which signs in alone.
      await signOutOfPortal(page);
      const withPasskey = await signInToApp(page);
      assert.deepEqual(await withPasskey.amr(), ['hwk', 'user', 'mfa']);

      // Back in the portal through the passkey; removing it is proved with the passkey itself.
      await page.goto(`${gatehouse.issuer}/security`);
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      const used = row(page, 'Passkeys and security keys').getByRole('table');
      assert.equal(await used.getByRole('row', { name: /Never/ }).count(), 0, 'last used is shown');
      await used.getByRole('button', { name: 'Remove Work laptop' }).click();
      const proof = page.getByRole('dialog', { name: 'Remove Work laptop' });
      await assertAccessible(page, 'removing a passkey');
      await proof.getByRole('button', { name: 'Confirm with a security key or passkey' }).click();
      await proof.waitFor({ state: 'hidden' });
      await row(page, 'Passkeys and security keys').getByText('Not set up').waitFor();
    });

    test('a security key added in the portal is the second factor after the password (amr pwd, hwk, mfa)', async () => {
      const { page, username } = await personOnSecurityPage('security-key');
      const keys = row(page, 'Passkeys and security keys');
      await keys.getByRole('button', { name: 'Add a passkey or security key' }).click();
      await keys.getByLabel('Name').fill('YubiKey');
      await keys.getByRole('button', { name: 'Continue' }).click();
      await saveRecoveryCodes(page, 'recovery codes after a security key');
      await keys.getByRole('row', { name: /YubiKey.*This device only/ }).waitFor();

      await signOutOfPortal(page);
      const withKey = await signInToApp(page);
      await submitSignIn(page, username, PASSWORD);
      await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
      await page.getByRole('button', { name: 'Use your security key or passkey' }).click();
      assert.deepEqual(await withKey.amr(), ['pwd', 'hwk', 'mfa']);
    });

    test('removing the last factor while a policy requires MFA shows the policy’s reason', async () => {
      const { page, user } = await personOnSecurityPage('platform');
      const group = await gatehouse.directory.groups.create(`Strict ${serial}`);
      await gatehouse.directory.groups.addMember(group.id, user.id);
      const keys = row(page, 'Passkeys and security keys');
      await keys.getByRole('button', { name: 'Add a passkey or security key' }).click();
      await keys.getByLabel('Name').fill('Only key');
      await keys.getByRole('button', { name: 'Continue' }).click();
      await saveRecoveryCodes(page, 'recovery codes');
      await gatehouse.directory.accessPolicies.create({ name: `Staff need MFA ${serial}`, resource: 'all_apps', users: 'groups', user_groups: [group.id], action: 'require_mfa' });

      await keys.getByRole('button', { name: 'Remove Only key' }).click();
      const proof = page.getByRole('dialog', { name: 'Remove Only key' });
      await proof.getByRole('button', { name: 'Confirm with a security key or passkey' }).click();
      await proof.getByRole('alert').filter({ hasText: `Staff need MFA ${serial}` }).waitFor();
      await assertAccessible(page, 'last factor kept by a policy');
      await proof.getByRole('button', { name: 'Cancel' }).click();
      await keys.getByRole('row', { name: /Only key/ }).waitFor();

    });

    test('changing the password with "Sign out my other sessions" (checked by default) signs the other browser out; this one stays', async () => {
      const { page, username } = await personOnSecurityPage();
      const other = await withAuthenticator(chromium, 'platform');
      authenticators.push(other);
      await other.page.goto(`${gatehouse.issuer}/`);
      await other.page.waitForURL(/\/interaction\//);
      await submitSignIn(other.page, username, PASSWORD);
      await other.page.getByRole('heading', { name: 'Your apps', level: 1 }).waitFor();

      await row(page, 'Password').getByRole('button', { name: 'Change password' }).click();
      const form = page.getByRole('form', { name: 'Change password' });
      const signOutOthers = form.getByRole('checkbox', { name: 'Sign out my other sessions' });
      assert.equal(await signOutOthers.isChecked(), true, 'checked by default');
      await assertAccessible(page, 'password change');
      await form.getByLabel('Current password').fill(PASSWORD);
      await form.getByLabel('New password', { exact: true }).fill('an entirely new passphrase 42');
      await form.getByLabel('Confirm new password').fill('an entirely new passphrase 42');
      await form.getByRole('button', { name: 'Change password' }).click();
      await page.getByText('Your password has been changed').waitFor();

      // The other browser's Gatehouse session is over: without the portal's token (kept in the tab)
      // it is sent to the sign-in page, not signed in silently.
      await other.page.evaluate(() => sessionStorage.clear());
      await other.page.reload();
      await other.page.waitForURL(/\/interaction\//);
      await other.page.getByLabel('Username or email').waitFor();
      await page.reload();
      await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
      assert.ok(!page.url().includes('/interaction/'), 'this browser stays signed in');
    });
  });
}
