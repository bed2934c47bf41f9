/**
 * Browser-facing hardening: every cookie of the sign-in flow is HttpOnly and SameSite=Lax (the
 * session cookie above all), and every HTML page Gatehouse serves carries a Content-Security-Policy
 * that forbids framing (frame-ancestors 'none', or X-Frame-Options) and inline script, and
 * X-Content-Type-Options: nosniff. API responses are never cached (Cache-Control: no-store), and on
 * an http issuer there is no Strict-Transport-Security (https-issuer.test.ts has it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminKey, call as apiCall } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { startAuthorization } from '../../helpers/rp.ts';
import {
  Browser,
  PASSWORD,
  REDIRECT_URI,
  type TestApp,
  authorizationUrl,
  call,
  createApp,
  exchange,
  exchangeOk,
  obtainCode,
  openSignInPage,
  parseForms,
  postForm,
  shutdown,
} from './support.ts';

/** A browser that keeps every Set-Cookie header it receives, attributes and all. */
class RecordingBrowser extends Browser {
  readonly setCookies: string[] = [];
  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await super.request(url, init);
    this.setCookies.push(...response.headers.getSetCookie());
    return response;
  }
}

const attributes = (cookie: string) =>
  new Map(
    cookie
      .split(';')
      .slice(1)
      .map((part) => {
        const [name = '', ...value] = part.trim().split('=');
        return [name.toLowerCase(), value.join('=')] as const;
      }),
  );

function assertPageHeaders(name: string, headers: Headers) {
  const csp = headers.get('content-security-policy');
  assert.ok(csp, `${name}: a Content-Security-Policy header`);
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([k = '', ...v]) => [k, v] as const));
  const framing = directives.get('frame-ancestors');
  const xfo = headers.get('x-frame-options');
  assert.ok((framing && framing.join(' ') === "'none'") || (xfo && /^(deny|sameorigin)$/i.test(xfo)), `${name}: framing forbidden (CSP ${csp}, X-Frame-Options ${xfo})`);
  assert.deepEqual(directives.get('default-src'), ["'none'"], `${name}: default-src 'none'`);
  const scripts = directives.get('script-src') ?? directives.get('default-src') ?? [];
  assert.ok(!scripts.some((s) => ["'unsafe-inline'", "'unsafe-eval'", '*', 'data:', 'http:', 'https:'].includes(s)), `${name}: no inline or remote script (${scripts.join(' ')})`);
  assert.ok(directives.has('base-uri'), `${name}: base-uri set`);
  assert.match(headers.get('content-type') ?? '', /^text\/html; charset=utf-8/i, `${name}: an explicit charset`);
  assert.equal(headers.get('x-content-type-options'), 'nosniff', `${name}: X-Content-Type-Options: nosniff`);
  assert.equal(headers.get('strict-transport-security'), null, `${name}: no HSTS on an http issuer`);
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`cookies and page headers (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let app: TestApp;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, groups } = gatehouse.directory;
      await groups.create('staff');
      await users.create({ username: 'hedy', email: 'hedy@example.com', password: PASSWORD });
      await users.create({ username: 'nora', email: 'nora@example.com', password: PASSWORD });
      await groups.addMember('staff', 'hedy');
      app = await createApp(gatehouse, { label: 'Headers', group: 'staff' });
    });
    after(() => shutdown(gatehouse));

    test('every cookie of the sign-in flow is HttpOnly and SameSite=Lax, the session cookie included', async () => {
      const browser = new RecordingBrowser();
      const tokens = await exchangeOk(gatehouse, app, await obtainCode(app, 'hedy', { browser }));
      assert.ok(tokens.access_token);
      const names = new Set(browser.setCookies.map((cookie) => cookie.split('=')[0]));
      assert.ok(names.has('_session'), `the session cookie was set (${[...names].join(', ')})`);
      assert.ok(names.has('_interaction'));
      for (const cookie of browser.setCookies) {
        const attrs = attributes(cookie);
        const name = cookie.split('=')[0];
        assert.ok(attrs.has('httponly'), `${name} is HttpOnly: ${cookie}`);
        assert.equal(attrs.get('samesite')?.toLowerCase(), 'lax', `${name} is SameSite=Lax: ${cookie}`);
        assert.ok(!attrs.has('domain'), `${name} is a host-only cookie: ${cookie}`);
      }
      // The session cookie is signed: a .sig companion, so a tampered value is ignored.
      assert.ok(names.has('_session.sig'));
    });

    test('a tampered session cookie is not accepted', async () => {
      const browser = new Browser();
      await obtainCode(app, 'hedy', { browser });
      const session = browser.cookies.get('_session') ?? '';
      browser.cookies.set('_session', `${session.slice(0, -2)}xx`);
      const start = await startAuthorization(app.config, REDIRECT_URI, 'openid', { prompt: 'none' });
      const step = await browser.follow(String(start.url), REDIRECT_URI);
      assert.equal(step.response, undefined);
      assert.equal(new URL(step.url).searchParams.get('error'), 'login_required');
      assert.equal(new URL(step.url).searchParams.get('code'), null);
    });

    test('the sign-in page', async () => {
      const browser = new Browser();
      const start = await startAuthorization(app.config, REDIRECT_URI, 'openid');
      const step = await browser.follow(String(start.url), REDIRECT_URI);
      assert.ok(step.response);
      assert.equal(step.response.status, 200);
      assertPageHeaders('sign-in page', step.response.headers);
      assert.equal(step.response.headers.get('x-frame-options'), 'DENY');
      assert.match(step.response.headers.get('cache-control') ?? '', /no-store/);
      assert.equal(step.response.headers.get('referrer-policy'), 'no-referrer');
    });

    test('the sign-in page after a wrong password, and the refusal page', async () => {
      const page = await openSignInPage(app);
      const wrong = await postForm(page.browser, page.action, { csrf: page.csrf, username: 'hedy', password: 'wrong-password-1' });
      assert.equal(wrong.status, 200);
      assertPageHeaders('sign-in page with an error', wrong.headers);
      const refused = await postForm(page.browser, page.action, { csrf: 'forged', username: 'hedy', password: PASSWORD });
      assert.equal(refused.status, 403);
      assertPageHeaders('refusal page', refused.headers);
    });

    test('the no-access page', async () => {
      const browser = new Browser();
      const start = await startAuthorization(app.config, REDIRECT_URI, 'openid');
      const first = await browser.follow(String(start.url), REDIRECT_URI);
      assert.ok(first.response);
      const [form] = parseForms(await first.response.text());
      assert.ok(form);
      const step = await browser.submit(first.url, form, { username: 'nora', password: PASSWORD }, REDIRECT_URI);
      assert.ok(step.response);
      assert.equal(step.response.status, 403);
      assertPageHeaders('no-access page', step.response.headers);
    });

    test('the error pages: expired interaction, protocol error, unregistered redirect URI', async () => {
      const expired = await call(`${gatehouse.issuer}/interaction/not-a-uid`);
      assert.equal(expired.status, 400);
      assertPageHeaders('expired interaction', expired.headers);
      const noClient = await call(authorizationUrl(gatehouse, { client_id: 'nope', response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI }));
      assert.equal(noClient.status, 400);
      assertPageHeaders('protocol error page', noClient.headers);
      const badRedirect = await call(authorizationUrl(gatehouse, { client_id: app.credentials.clientId, response_type: 'code', scope: 'openid', redirect_uri: 'https://attacker.example/' }));
      assert.equal(badRedirect.status, 400);
      assertPageHeaders('unregistered redirect URI page', badRedirect.headers);
    });

    test('the home page', async () => {
      const home = await call(`${gatehouse.issuer}/`);
      assert.equal(home.status, 200);
      assertPageHeaders('home page', home.headers);
    });

    test('the logout page of a signed-in person', async () => {
      const { browser } = await obtainCode(app, 'hedy');
      const response = await browser.request(`${gatehouse.issuer}/oauth2/sessions/logout`);
      assert.equal(response.status, 200);
      assertPageHeaders('logout page', response.headers);
    });

    test('the logout page without a session (an auto-submitting form)', async () => {
      const logout = await call(`${gatehouse.issuer}/oauth2/sessions/logout`);
      assert.equal(logout.status, 200);
      assertPageHeaders('logout page without a session', logout.headers);
    });

    test('the response_mode=form_post page, which carries the code', async () => {
      const { browser } = await obtainCode(app, 'hedy');
      const start = await startAuthorization(app.config, REDIRECT_URI, 'openid', { response_mode: 'form_post' });
      const response = await browser.request(String(start.url));
      assert.equal(response.status, 200);
      assert.match(await response.text(), /name="code"/);
      assertPageHeaders('form_post response page', response.headers);
    });

    test('API responses are never cached, successful or not', async () => {
      const { key } = await adminKey(gatehouse, 'administrator');
      const responses = {
        'a listing': await apiCall(gatehouse, 'GET', '/api/users', undefined, { key }),
        'one user': await apiCall(gatehouse, 'GET', '/api/users/hedy', undefined, { key }),
        'no key': await apiCall(gatehouse, 'GET', '/api/users'),
        'a validation error': await apiCall(gatehouse, 'POST', '/api/users', { nope: true }, { key }),
        'an unknown route': await apiCall(gatehouse, 'GET', '/api/nothing-here', undefined, { key }),
      };
      for (const [name, response] of Object.entries(responses)) {
        assert.match(response.headers.get('cache-control') ?? '', /\bno-store\b/, `${name} (${response.status}): Cache-Control: no-store`);
        assert.equal(response.headers.get('x-content-type-options'), 'nosniff', `${name}: nosniff`);
      }
      assert.equal(responses['a listing'].status, 200);
    });

    test('JSON endpoints are not cacheable and say what they are', async () => {
      const issued = await obtainCode(app, 'hedy');
      const response = await exchange(gatehouse, app, issued);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('cache-control') ?? '', /no-store/);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    });
  });
}
