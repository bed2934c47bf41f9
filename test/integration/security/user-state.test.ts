/**
 * Who may sign in: a suspended or staged user gets the same generic refusal as a wrong password and
 * no code; a user outside the app's groups signs in but gets the "no access" page, and the app gets
 * access_denied, never a code. Suspending someone who is signed in stops their tokens at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, startAuthorization } from '../../helpers/rp.ts';
import {
  Browser,
  GENERIC_FAILURE,
  PASSWORD,
  REDIRECT_URI,
  type TestApp,
  assertNoInternals,
  assertOAuthError,
  call,
  createApp,
  exchangeOk,
  obtainCode,
  pageAlert,
  parseForms,
  token,
  userinfo,
  shutdown,
} from './support.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`user states and app access (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let app: TestApp;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, groups } = gatehouse.directory;
      await groups.create('staff');
      for (const [username, state] of [['ada', 'ACTIVATED'], ['sam', 'ACTIVATED'], ['stan', 'STAGED'], ['olga', 'ACTIVATED'], ['liv', 'ACTIVATED']] as const) {
        await users.create({ username, email: `${username}@example.com`, password: PASSWORD, state });
        if (username !== 'olga') await groups.addMember('staff', username);
      }
      await users.suspend('sam');
      await groups.create('elsewhere');
      await groups.addMember('elsewhere', 'olga');
      app = await createApp(gatehouse, { label: 'Guarded', group: 'staff' });
    });
    after(() => shutdown(gatehouse));

    /** Signs in with the right password and returns where the browser ended up. */
    async function attempt(username: string, password = PASSWORD, browser = new Browser()) {
      const start = await startAuthorization(app.config, REDIRECT_URI, 'openid email');
      return { outcome: await browse(browser, start.url, REDIRECT_URI, { username, password }), browser };
    }

    /** The sign-in form again, with the one generic message, and nothing else. */
    function assertGenericRefusal(outcome: Awaited<ReturnType<typeof attempt>>['outcome']) {
      assert.equal(outcome.callbackUrl, undefined, `no redirect to the app: ${outcome.callbackUrl?.href}`);
      assert.ok(outcome.page);
      assert.equal(outcome.page.status, 200);
      assert.equal(pageAlert(outcome.page.html), GENERIC_FAILURE);
      assert.ok(parseForms(outcome.page.html).some((form) => form.fields.some((field) => field.name === 'password')), 'the form again');
      assert.doesNotMatch(outcome.page.html, /suspend|staged|locked|disabled|not activated|code=/i);
      assertNoInternals(outcome.page.html);
    }

    test('an active member signs in (control)', async () => {
      const { outcome } = await attempt('ada');
      assert.ok(outcome.callbackUrl?.searchParams.get('code'));
    });

    test('a suspended user cannot sign in: the generic message, no code, no session', async () => {
      const { outcome, browser } = await attempt('sam');
      assertGenericRefusal(outcome);
      assert.equal(browser.cookies.has('_session'), false, 'no session cookie');
      const { outcome: wrong } = await attempt('ada', 'wrong-password-1');
      assert.equal(pageAlert(wrong.page?.html ?? ''), pageAlert(outcome.page?.html ?? ''), 'same text as a wrong password');
    });

    test('a suspended user with a wrong password sees the same message (no state oracle)', async () => {
      assertGenericRefusal((await attempt('sam', 'wrong-password-1')).outcome);
    });

    test('a STAGED user cannot sign in: the generic message, no code, no session', async () => {
      const { outcome, browser } = await attempt('stan');
      assertGenericRefusal(outcome);
      assert.equal(browser.cookies.has('_session'), false, 'no session cookie');
    });

    test('a user outside the bound groups gets the no-access page, then access_denied and no code', async () => {
      const { outcome, browser } = await attempt('olga');
      assert.equal(outcome.callbackUrl, undefined, 'no code after signing in');
      assert.ok(outcome.page);
      assert.equal(outcome.page.status, 403);
      assert.match(outcome.page.html, /You don&#39;t have access to Guarded|You don't have access to Guarded/);
      assert.doesNotMatch(outcome.page.html, /code=/);
      assertNoInternals(outcome.page.html);

      // The page's only way on is back to the app, with access_denied.
      const [form] = parseForms(outcome.page.html);
      assert.ok(form);
      const step = await browser.submit(outcome.page.url, form, {}, REDIRECT_URI);
      assert.equal(step.response, undefined, 'back to the app');
      const callback = new URL(step.url);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
      assert.equal(callback.searchParams.get('code'), null);

      // With the session now in place, prompt=none answers access_denied at once, still without a code.
      const start = await startAuthorization(app.config, REDIRECT_URI, 'openid', { prompt: 'none' });
      const silent = await browser.follow(String(start.url), REDIRECT_URI);
      assert.equal(silent.response, undefined);
      const silentCallback = new URL(silent.url);
      assert.equal(silentCallback.searchParams.get('error'), 'access_denied');
      assert.equal(silentCallback.searchParams.get('code'), null);
    });

    test('the abort form of the no-access page needs its CSRF token', async () => {
      const { outcome, browser } = await attempt('olga');
      assert.equal(outcome.page?.status, 403);
      const [form] = parseForms(outcome.page?.html ?? '');
      assert.ok(form);
      const response = await browser.request(new URL(form.action, outcome.page?.url).href, { method: 'POST', body: new URLSearchParams({ csrf: 'forged' }) });
      assert.equal(response.status, 403);
      assert.equal(response.headers.get('location'), null);
    });

    test('suspending a signed-in user stops their tokens and their session', async () => {
      const browser = new Browser();
      const tokens = await exchangeOk(gatehouse, app, await obtainCode(app, 'liv', { browser }));
      const pending = await obtainCode(app, 'liv', { browser });
      assert.equal((await userinfo(gatehouse, tokens.access_token)).status, 200);

      await gatehouse.directory.users.suspend('liv');
      try {
        const info = await userinfo(gatehouse, tokens.access_token);
        assert.equal(info.status, 401, info.text);
        assert.equal(info.json?.error, 'invalid_token');
        // A code issued just before the suspension can't be redeemed after it.
        assertOAuthError(
          await token(gatehouse, { grant_type: 'authorization_code', code: pending.code, redirect_uri: REDIRECT_URI, code_verifier: pending.start.codeVerifier }, app.credentials),
          400,
          'invalid_grant',
        );
        // The existing session gives no new code.
        const start = await startAuthorization(app.config, REDIRECT_URI, 'openid');
        const step = await browser.follow(String(start.url), REDIRECT_URI);
        if (step.response) {
          assert.ok(step.response.status === 403 || step.response.status === 200, `a Gatehouse page (${step.response.status})`);
          const html = await step.response.text();
          assert.doesNotMatch(html, /code=/);
        } else {
          assert.equal(new URL(step.url).searchParams.get('code'), null, `no code: ${step.url}`);
        }
        const silent = await call(String(await startAuthorization(app.config, REDIRECT_URI, 'openid', { prompt: 'none' }).then((s) => s.url)), {
          headers: { cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
        });
        assert.equal(new URL(silent.headers.get('location') ?? '', gatehouse.issuer).searchParams.get('code'), null);
      } finally {
        await gatehouse.directory.users.activate('liv');
      }
    });
  });
}
