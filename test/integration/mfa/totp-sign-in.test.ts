/**
 * The second step of signing in (issue 12): a person who set up an authenticator app is asked for
 * its code after every right password, over real HTTP with a real relying party. Codes are computed
 * from the enrolled secret as the app would; replays, wrong codes and lockout are refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode } from '../../../src/authn/totp.ts';
import { LOCKOUT_THRESHOLD } from '../../../src/directory/users.ts';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, client, discover, startAuthorization } from '../../helpers/rp.ts';
import { TOTP_PERIOD_MS, freshTotpStep } from '../../helpers/totp.ts';

const PASSWORD = 'second-factor-password-1';
const REDIRECT = 'https://mfa-app.example.test/callback';
const PERIOD_MS = TOTP_PERIOD_MS;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Sign-in with an authenticator app as second factor (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let rp: client.Configuration;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const everyone = await gatehouse.directory.groups.get('All Users');
      const { app, clientSecret } = await gatehouse.directory.apps.create({ label: 'MFA App', redirect_uris: [REDIRECT], auth_method: 'client_secret_basic' });
      await gatehouse.directory.apps.bind(app.id, everyone.id);
      rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT });
    });
    after(() => gatehouse?.close());

    let serial = 0;
    /** A person with an authenticator app set up (confirmed with the code of the step before `stepStart`). */
    async function enrolled(stepStart: number) {
      const username = `totp-${++serial}`;
      const user = await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
      const { secret } = await gatehouse.runtime.factors.beginTotp(user.id, { issuer: 'Gatehouse', account: username });
      await gatehouse.runtime.factors.confirmTotp(user.id, totpCode(secret, stepStart - PERIOD_MS));
      return { user, username, secret };
    }

    /** Starts a sign-in and types the password: the page that follows. */
    async function afterPassword(username: string, browser = new Browser()) {
      const start = await startAuthorization(rp, REDIRECT, 'openid profile');
      const outcome = await browse(browser, start.url, REDIRECT, { username, password: PASSWORD });
      assert.ok(outcome.page, 'a page, not yet a code');
      return { start, browser, page: outcome.page };
    }

    async function submitCode(browser: Browser, page: { url: string; html: string }, code: string, csrf?: string) {
      const form = parseForms(page.html).find((f) => f.action.endsWith('/second-factor'));
      assert.ok(form, `the second-factor form: ${page.html.slice(0, 300)}`);
      const step = await browser.submit(page.url, form, { code, ...(csrf === undefined ? {} : { csrf }) }, REDIRECT);
      if (!step.response) return { callbackUrl: new URL(step.url) };
      return { page: { url: step.url, status: step.response.status, html: await step.response.text() } };
    }

    test('a right password leads to the code page; the right code signs in with amr pwd, otp, mfa', async () => {
      const stepStart = await freshTotpStep();
      const { username, secret } = await enrolled(stepStart);
      const other = await enrolled(stepStart);
      const { start, browser, page } = await afterPassword(username);
      assert.equal(page.status, 200);
      assert.match(page.html, /Two-step verification/);
      assert.match(page.html, /autocomplete="one-time-code"/);
      assert.ok(!page.html.includes(PASSWORD));

      const wrongSecret = await submitCode(browser, page, totpCode(other.secret, stepStart));
      assert.ok(wrongSecret.page, 'another person’s code is refused');
      assert.match(wrongSecret.page.html, /That code is not right/);

      const done = await submitCode(browser, wrongSecret.page, totpCode(secret, stepStart));
      assert.ok(done.callbackUrl, `a code at the app: ${done.page?.html.slice(0, 300)}`);
      const tokens = await client.authorizationCodeGrant(rp, done.callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });
      assert.deepEqual(tokens.claims()?.amr, ['pwd', 'otp', 'mfa']);

      const [event] = (await gatehouse.directory.audit.list({ action: 'user.sign_in', limit: 1, offset: 0 })).events;
      assert.equal(event?.outcome, 'success');
      assert.equal(event?.details.method, 'password+totp');
    });

    test('a code is accepted once: the same code in a second sign-in is refused, the next step’s code is not', async () => {
      const stepStart = await freshTotpStep();
      const { username, secret } = await enrolled(stepStart);
      const first = await afterPassword(username);
      assert.ok((await submitCode(first.browser, first.page, totpCode(secret, stepStart))).callbackUrl);

      const second = await afterPassword(username);
      const replay = await submitCode(second.browser, second.page, totpCode(secret, stepStart));
      assert.ok(replay.page, 'replayed code refused');
      assert.match(replay.page.html, /That code is not right/);
      const older = await submitCode(second.browser, replay.page, totpCode(secret, stepStart - PERIOD_MS));
      assert.ok(older.page, 'an earlier step after a later one is refused');
      assert.ok((await submitCode(second.browser, older.page, totpCode(secret, stepStart + PERIOD_MS))).callbackUrl, 'the next step’s code is accepted');
    });

    test('a person without a second factor signs in with the password alone (amr pwd)', async () => {
      await gatehouse.directory.users.create({ username: 'plain', email: 'plain@example.com', password: PASSWORD, state: 'ACTIVATED' });
      const start = await startAuthorization(rp, REDIRECT, 'openid');
      const outcome = await browse(new Browser(), start.url, REDIRECT, { username: 'plain', password: PASSWORD });
      assert.ok(outcome.callbackUrl);
      const tokens = await client.authorizationCodeGrant(rp, outcome.callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });
      assert.deepEqual(tokens.claims()?.amr, ['pwd']);
    });

    test('wrong codes count toward the lockout, and a right password in between does not reset the count', async () => {
      const stepStart = await freshTotpStep();
      const { user, username, secret } = await enrolled(stepStart);
      let attempts = 0;
      // Password right, then one wrong code, over and over: every round costs tries.
      while (attempts < LOCKOUT_THRESHOLD) {
        const { browser, page } = await afterPassword(username);
        if (!/Two-step verification/.test(page.html)) break;
        attempts += 1;
        await submitCode(browser, page, '000000');
      }
      const row = await gatehouse.runtime.storage.db.selectFrom('users').select(['account_locked', 'failed_logins']).where('id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(row.account_locked, 1, `locked after ${attempts} rounds (failed_logins ${row.failed_logins})`);
      assert.ok(attempts <= LOCKOUT_THRESHOLD / 2 + 1, `each round of right password + wrong code costs tries (${attempts} rounds)`);

      // Locked: even the right password and code get nowhere.
      const { page } = await afterPassword(username);
      assert.doesNotMatch(page.html, /Two-step verification/);
      assert.ok(secret);
    });

    test('the right code on a locked account is refused, and an unlocked account signs in again', async () => {
      const stepStart = await freshTotpStep();
      const { user, username, secret } = await enrolled(stepStart);
      const { browser, page } = await afterPassword(username);
      for (let i = 0; i < LOCKOUT_THRESHOLD; i++) await submitCode(browser, page, '123456');
      const refused = await submitCode(browser, page, totpCode(secret, stepStart));
      assert.ok(refused.page, 'locked: refused');
      const [event] = (await gatehouse.directory.audit.list({ action: 'user.sign_in', limit: 1, offset: 0 })).events;
      assert.equal(event?.details.reason, 'locked');

      await gatehouse.directory.users.unlock(user.id);
      const again = await afterPassword(username);
      assert.ok((await submitCode(again.browser, again.page, totpCode(secret, stepStart))).callbackUrl);
    });

    test('a recovery code works once, says how many are left, and its sign-in reaches the app', async () => {
      const stepStart = await freshTotpStep();
      const { user, username } = await enrolled(stepStart);
      const codes = await gatehouse.runtime.factors.regenerateRecoveryCodes(user.id);
      const { start, browser, page } = await afterPassword(username);
      const used = await submitCode(browser, page, codes[3]!.toUpperCase());
      assert.ok(used.page);
      assert.match(used.page.html, /Recovery code accepted/);
      assert.match(used.page.html, /You have 9 recovery codes left/);
      const link = used.page.html.match(/href="([^"]+)"/)?.[1]?.replaceAll('&#38;', '&');
      assert.ok(link);
      const onward = await browser.follow(new URL(link, used.page.url).href, REDIRECT);
      assert.ok(!onward.response, 'on to the app');
      const tokens = await client.authorizationCodeGrant(rp, new URL(onward.url), { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });
      assert.deepEqual(tokens.claims()?.amr, ['pwd', 'otp', 'mfa']);
      const [event] = (await gatehouse.directory.audit.list({ action: 'user.sign_in', limit: 1, offset: 0 })).events;
      assert.equal(event?.details.method, 'password+recovery_code');
      assert.equal(event?.details.recovery_codes_remaining, 9);

      const again = await afterPassword(username);
      const reused = await submitCode(again.browser, again.page, codes[3]!);
      assert.ok(reused.page, 'used once');
      assert.match(reused.page.html, /That code is not right/);
    });

    test('the code form needs its CSRF token, and the step can’t be reached without a right password first', async () => {
      const stepStart = await freshTotpStep();
      const { username, secret } = await enrolled(stepStart);
      const { browser, page } = await afterPassword(username);
      const forged = await submitCode(browser, page, totpCode(secret, stepStart), 'forged');
      assert.equal(forged.page?.status, 403);

      // A fresh interaction with no password behind it: posting a code only shows the sign-in page.
      const start = await startAuthorization(rp, REDIRECT, 'openid');
      const fresh = new Browser();
      const first = await browse(fresh, start.url, REDIRECT);
      assert.ok(first.page);
      const identify = parseForms(first.page.html).find((f) => f.action.endsWith('/identify'));
      assert.ok(identify);
      const action = identify.action.replace(/\/identify$/, '/second-factor');
      const posted = await fresh.submit(first.page.url, { ...identify, action }, { code: totpCode(secret, stepStart + PERIOD_MS) }, REDIRECT);
      assert.ok(posted.response, 'no code for the app');
      assert.doesNotMatch(await posted.response.text(), /Two-step verification/);
    });
  });
}
