/**
 * Password guessing from one address is slowed by a per-address ceiling on the sign-in form: 100
 * failed attempts per 5 minutes (successful sign-ins don't count), then 429 for every attempt,
 * including one with the right password, on every interaction (src/http/routes/interactions.ts;
 * the per-(address, username) limit of 20 and concurrent guesses are in sign-in-races.test.ts). The
 * limiter lives in the server process, so this file starts a server of its own for each database.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import { GENERIC_FAILURE, PASSWORD, type TestApp, assertNoInternals, createApp, openSignInPage, pageAlert, postForm, shutdown, startWithStaff } from './support.ts';

const LIMIT = 100;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`sign-in rate limit (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let app: TestApp;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'gina');
      app = await createApp(gatehouse, { label: 'Limited', group: 'staff' });
    });
    after(() => shutdown(gatehouse));

    test(`after ${LIMIT} attempts from one address the form answers 429, even to the right password`, async () => {
      const page = await openSignInPage(app);
      // Unknown usernames, so that no account gets locked on the way: this is about the address.
      for (let i = 1; i <= LIMIT; i++) {
        const response = await postForm(page.browser, page.action, { csrf: page.csrf, username: `guess-${i}`, password: `guess-password-${i}` });
        assert.equal(response.status, 200, `attempt ${i} is still answered normally (${response.status})`);
        assert.equal(pageAlert(response.text), GENERIC_FAILURE);
      }

      const limited = await postForm(page.browser, page.action, { csrf: page.csrf, username: `guess-${LIMIT + 1}`, password: 'guess-password' });
      assert.equal(limited.status, 429);
      assert.match(pageAlert(limited.text) ?? '', /Too many sign-in attempts/);
      assertNoInternals(limited.text);

      const right = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'gina', password: PASSWORD });
      assert.equal(right.status, 429, 'the right password is not even checked');
      assert.equal(right.headers.get('location'), null);
      assert.equal(page.browser.cookies.has('_session'), false, 'no session');
      // The account itself was not touched: the limit is per address, not a lockout of gina.
      const gina = await gatehouse.directory.users.get('gina');
      assert.equal(gina.account_locked, false);
    });

    test('a new interaction from the same address is still limited', async () => {
      const page = await openSignInPage(app);
      const response = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'gina', password: PASSWORD });
      assert.equal(response.status, 429);
      assert.equal(response.headers.get('location'), null);
    });

    test('X-Forwarded-For does not get around the limit (trust_proxy is off by default)', async () => {
      const page = await openSignInPage(app);
      for (const forwarded of ['203.0.113.7', '198.51.100.1, 203.0.113.9']) {
        const response = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'gina', password: PASSWORD }, { 'x-forwarded-for': forwarded, 'x-real-ip': forwarded });
        assert.equal(response.status, 429, `with X-Forwarded-For: ${forwarded}`);
      }
      assert.equal(page.browser.cookies.has('_session'), false);
    });
  });
}
