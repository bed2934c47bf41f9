/**
 * The sign-in form: a POST without the page's CSRF token, with another interaction's token or from
 * another site is refused (403) and signs no one in; a wrong password reads the same for a known and
 * an unknown username; ten wrong passwords lock the account, after which the right one fails too,
 * with the same generic message. (Per-address rate limiting is in rate-limit.test.ts, on a server of
 * its own. Budget: every password check counts against the limit of 20 per address and server, so
 * this file makes 18 — refused CSRF and Origin checks come before the limiter and don't count.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import {
  Browser,
  GENERIC_FAILURE,
  PASSWORD,
  REDIRECT_URI,
  type Response2,
  type TestApp,
  assertNoInternals,
  createApp,
  openSignInPage,
  pageAlert,
  postForm,
  shutdown,
} from './support.ts';

const LOCKOUT_THRESHOLD = 10;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`sign-in form (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let app: TestApp;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, groups } = gatehouse.directory;
      await groups.create('staff');
      for (const username of ['fern', 'lock.me']) {
        await users.create({ username, email: `${username}@example.com`, password: PASSWORD });
        await groups.addMember('staff', username);
      }
      app = await createApp(gatehouse, { label: 'Form', group: 'staff' });
    });
    after(() => shutdown(gatehouse));

    /** A refused POST: 403, no redirect, no session, and the person is still not signed in. */
    async function assertRefused(response: Response2, browser: Browser) {
      assert.equal(response.status, 403, response.text.slice(0, 300));
      assert.equal(response.headers.get('location'), null);
      assert.ok(!response.headers.getSetCookie().some((cookie) => cookie.startsWith('_session')), 'no session cookie set');
      assert.equal(browser.cookies.has('_session'), false);
      assert.match(response.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assertNoInternals(response.text);
    }

    /** Then the very same page still signs in with the right token: nothing was consumed or broken. */
    async function assertStillUsable(page: Awaited<ReturnType<typeof openSignInPage>>) {
      const ok = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'fern', password: PASSWORD }, { origin: new URL(gatehouse.issuer).origin });
      assert.equal(ok.status, 303, ok.text.slice(0, 300));
      assert.match(ok.headers.get('location') ?? '', /\/oauth2\/auth\//);
    }

    test('a POST without the csrf field is refused with 403', async () => {
      const page = await openSignInPage(app);
      await assertRefused(await postForm(page.browser, page.action, { username: 'fern', password: PASSWORD }), page.browser);
      await assertStillUsable(page);
    });

    test('a POST with a wrong, empty or foreign csrf token is refused with 403', async () => {
      const page = await openSignInPage(app);
      const foreign = await openSignInPage(app);
      for (const csrf of ['wrong', '', `${page.csrf}x`, page.csrf.slice(1), foreign.csrf, page.csrf.toLowerCase()]) {
        if (csrf === page.csrf) continue;
        await assertRefused(await postForm(page.browser, page.action, { csrf, username: 'fern', password: PASSWORD }), page.browser);
      }
      // Two csrf fields, one of them right, are no better.
      const body = new URLSearchParams([['csrf', 'wrong'], ['csrf', page.csrf], ['username', 'fern'], ['password', PASSWORD]]);
      const doubled = await page.browser.request(page.action, { method: 'POST', body });
      assert.ok(doubled.status === 403 || doubled.status === 400, `status ${doubled.status}`);
      assert.equal(page.browser.cookies.has('_session'), false);
    });

    test('a POST without the interaction cookie (a forged cross-site form) is refused', async () => {
      const page = await openSignInPage(app);
      const stranger = new Browser();
      const response = await postForm(stranger, page.action, { csrf: page.csrf, username: 'fern', password: PASSWORD });
      assert.ok(response.status === 400 || response.status === 403, `status ${response.status}`);
      assert.equal(response.headers.get('location'), null);
      assert.equal(stranger.cookies.has('_session'), false);
    });

    test('a POST with the Origin of another site is refused with 403, even with the right token', async () => {
      const page = await openSignInPage(app);
      for (const origin of ['https://attacker.example', `${new URL(gatehouse.issuer).origin}.attacker.example`, 'http://localhost', 'https://127.0.0.1']) {
        await assertRefused(await postForm(page.browser, page.action, { csrf: page.csrf, username: 'fern', password: PASSWORD }, { origin }), page.browser);
      }
      await assertStillUsable(page);
    });

    test('a wrong password reads exactly the same for an existing and an unknown username', async () => {
      const page = await openSignInPage(app);
      const normalise = (response: Response2, username: string) => ({
        status: response.status,
        contentType: response.headers.get('content-type'),
        cookies: response.headers.getSetCookie().map((cookie) => cookie.replace(/=[^;]*/, '=').replace(/expires=[^;]*/i, 'expires=')),
        html: response.text.replaceAll(`value="${username}"`, 'value="USERNAME"').replaceAll(`<strong>${username}</strong>`, '<strong>USERNAME</strong>'),
      });
      const known = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'fern', password: 'wrong-password-1' });
      const unknown = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'nobody-here', password: 'wrong-password-1' });
      assert.equal(known.status, 200);
      assert.equal(pageAlert(known.text), GENERIC_FAILURE);
      assert.deepEqual(normalise(unknown, 'nobody-here'), normalise(known, 'fern'));
      assertNoInternals(known.text, ['wrong-password-1']);
      // An unknown email address, and an empty password, give nothing away either.
      const email = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'nobody@example.com', password: 'wrong-password-1' });
      assert.deepEqual(normalise(email, 'nobody@example.com'), normalise(known, 'fern'));
      assert.equal(page.browser.cookies.has('_session'), false);
    });

    test(`${LOCKOUT_THRESHOLD} wrong passwords lock the account: then the right password fails too, with the generic message`, async () => {
      const page = await openSignInPage(app);
      for (let i = 1; i <= LOCKOUT_THRESHOLD; i++) {
        const response = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'lock.me', password: `wrong-password-${i}` });
        assert.equal(response.status, 200, `attempt ${i}: ${response.status}`);
        assert.equal(pageAlert(response.text), GENERIC_FAILURE);
      }
      const user = await gatehouse.directory.users.get('lock.me');
      assert.equal(user.account_locked, true, 'locked after the tenth failure');

      for (const username of ['lock.me', 'LOCK.ME@example.com']) {
        const right = await postForm(page.browser, page.action, { csrf: page.csrf, username, password: PASSWORD });
        assert.equal(right.status, 200, `${username}: the form again, not a redirect (${right.status})`);
        assert.equal(right.headers.get('location'), null);
        assert.equal(pageAlert(right.text), GENERIC_FAILURE, 'the same generic message: no "locked" oracle');
        assert.doesNotMatch(right.text, /locked/i);
      }
      assert.equal(page.browser.cookies.has('_session'), false);

      // Only an administrator's unlock lets the right password in again.
      await gatehouse.directory.users.unlock('lock.me');
      const unlocked = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'lock.me', password: PASSWORD });
      assert.equal(unlocked.status, 303, unlocked.text.slice(0, 300));
      const step = await page.browser.follow(new URL(unlocked.headers.get('location') ?? '', gatehouse.issuer).href, REDIRECT_URI);
      assert.ok(new URL(step.url).searchParams.get('code'));
    });
  });
}
