/**
 * The methods the standards require besides GET: an authorization request sent as a form POST
 * (OpenID Connect Core §3.1.2.1; the Basic OP plan's oidcc-ensure-post-request-succeeds), and an
 * RP-initiated logout request sent as a form POST (RP-Initiated Logout 1.0 §2). Both come from the
 * app's site, so the browser posts them cross-site.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import { browse, client, discover, startAuthorization } from '../../helpers/rp.ts';
import { PASSWORD, REDIRECT_URI, shutdown, startWithStaff } from './support.ts';

const POST_LOGOUT_URI = 'https://app.example.test/signed-out';
const APP_ORIGIN = 'https://app.example.test';

/** The browser submitting a form the app's page built, from the app's origin. */
function crossSitePost(browser: Browser, url: string, params: URLSearchParams, stopAt: string) {
  return browser.follow(url, stopAt, { method: 'POST', body: params, headers: { origin: APP_ORIGIN, 'sec-fetch-site': 'cross-site' } });
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`authorization and logout requests by POST (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let config: client.Configuration;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'paula');
      const { app, clientSecret } = await gatehouse.directory.apps.create({
        label: 'Posting app',
        redirect_uris: [REDIRECT_URI],
        post_logout_redirect_uris: [POST_LOGOUT_URI],
        auth_method: 'client_secret_basic',
        scopes: ['email'],
      });
      await gatehouse.directory.apps.bind(app.id, 'staff');
      config = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
    });
    after(() => shutdown(gatehouse));

    /** The authorization request's parameters as a form POST to the endpoint, then sign-in and a real RP's code exchange. */
    async function signInByPost(browser: Browser, extra: Record<string, string> = {}) {
      const start = await startAuthorization(config, REDIRECT_URI, 'openid email', extra);
      const endpoint = `${start.url.origin}${start.url.pathname}`;
      const step = await crossSitePost(browser, endpoint, start.url.searchParams, REDIRECT_URI);
      let callbackUrl: URL | undefined;
      if (step.response) {
        const html = await step.response.text();
        assert.equal(step.response.status, 200, `the sign-in page: ${html.slice(0, 300)}`);
        // The identifier step's form, given the password too in one request.
        const form = parseForms(html).find((f) => f.fields.some((field) => field.name === 'username'));
        assert.ok(form, 'the sign-in form');
        const submitted = await browser.submit(step.url, form, { username: 'paula', password: PASSWORD }, REDIRECT_URI);
        assert.equal(submitted.response, undefined, 'signed in and sent back to the app');
        callbackUrl = new URL(submitted.url);
      } else {
        callbackUrl = new URL(step.url);
      }
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: start.codeVerifier,
        expectedState: start.state,
        expectedNonce: start.nonce,
        idTokenExpected: true,
      });
      return { tokens, signedInAgain: step.response !== undefined };
    }

    test('oidcc-ensure-post-request-succeeds: a form POST to the authorization endpoint signs in and yields tokens', async () => {
      const browser = new Browser();
      const { tokens } = await signInByPost(browser);
      assert.equal(tokens.claims()?.email, 'paula@example.com');
      assert.ok(tokens.access_token);
    });

    test('a second POST authorization request in the same browser uses the session (prompt=none)', async () => {
      const browser = new Browser();
      await signInByPost(browser);
      const { tokens, signedInAgain } = await signInByPost(browser, { prompt: 'none' });
      assert.equal(signedInAgain, false);
      assert.ok(tokens.id_token);
    });

    test('a POST authorization request with a bad redirect_uri is refused like a GET one', async () => {
      const start = await startAuthorization(config, REDIRECT_URI, 'openid');
      const params = new URLSearchParams(start.url.searchParams);
      params.set('redirect_uri', 'https://attacker.example/cb');
      const step = await crossSitePost(new Browser(), `${start.url.origin}${start.url.pathname}`, params, 'https://attacker.example/');
      assert.ok(step.response, 'no redirect to the unregistered URI');
      assert.equal(step.response.status, 400);
    });

    test('RP-initiated logout by POST with id_token_hint and post_logout_redirect_uri', async () => {
      const browser = new Browser();
      const { tokens } = await signInByPost(browser);
      const logoutEndpoint = config.serverMetadata().end_session_endpoint;
      assert.ok(logoutEndpoint);
      const params = new URLSearchParams({ id_token_hint: tokens.id_token ?? '', post_logout_redirect_uri: POST_LOGOUT_URI, state: 'bye-1' });
      const page = await crossSitePost(browser, logoutEndpoint, params, POST_LOGOUT_URI);
      assert.ok(page.response);
      const html = await page.response.text();
      assert.equal(page.response.status, 200, html.slice(0, 300));
      const [form] = parseForms(html);
      assert.ok(form, 'the sign-out confirmation form');
      const done = await browser.submit(page.url, form, { logout: 'yes' }, POST_LOGOUT_URI);
      assert.equal(done.response, undefined, 'back to the app');
      const back = new URL(done.url);
      assert.equal(`${back.origin}${back.pathname}`, POST_LOGOUT_URI);
      assert.equal(back.searchParams.get('state'), 'bye-1');

      // The session is gone: a silent request now needs a sign-in.
      const start = await startAuthorization(config, REDIRECT_URI, 'openid', { prompt: 'none' });
      const silent = await browse(browser, start.url, REDIRECT_URI);
      assert.equal(silent.callbackUrl?.searchParams.get('error'), 'login_required');
    });
  });
}
