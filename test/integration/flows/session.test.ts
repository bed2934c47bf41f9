/**
 * The Gatehouse browser session, seen from relying parties and from the person: single sign-on
 * across apps, the prompt / max_age / login_hint parameters, response_mode=form_post, the sign-in
 * page itself (form, CSRF, cookie attributes, one message for every failure), and RP-initiated
 * logout at /oauth2/sessions/logout.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Browser, type ParsedForm, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, client, discover, signIn, startAuthorization } from '../../helpers/rp.ts';

const PORTAL = { redirectUri: 'https://portal.example.test/callback', signedOut: 'https://portal.example.test/signed-out' };
const WIKI = { redirectUri: 'https://wiki.example.test/oidc/cb' };
const SCOPE = 'openid email profile';
const ALICE = { username: 'alice', email: 'alice@example.com', firstname: 'Alice', lastname: 'Martin', password: 'session-password-1' };
const SUSPENDED = { username: 'sid', email: 'sid@example.com', password: 'session-password-2' };

/** A browser that also keeps every Set-Cookie header it received, attributes included. */
class RecordingBrowser extends Browser {
  readonly setCookies: string[] = [];
  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const response = await super.request(url, init);
    this.setCookies.push(...response.headers.getSetCookie());
    return response;
  }
}

/** A browser that asks for HTML the way real ones do (Accept: text/html), so errors come as pages. */
class HtmlBrowser extends Browser {
  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
    return super.request(url, { ...init, headers });
  }
}

/** The password step's form, or else the identifier step's (the first sign-in page). */
const signInForm = (html: string): ParsedForm | undefined => {
  const forms = parseForms(html);
  return forms.find((form) => form.fields.some((field) => field.name === 'password')) ?? forms.find((form) => form.action.endsWith('/identify'));
};
const errorText = (html: string) => html.match(/<div class="error"[^>]*>([\s\S]*?)<\/div>/)?.[1];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Browser session (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let portal: client.Configuration;
    let wiki: client.Configuration;

    const code = (url: URL | undefined) => url?.searchParams.get('code');

    /** Signs Alice in to the portal in a fresh browser; returns the browser and the tokens. */
    const signedIn = async (browser = new Browser()) =>
      signIn(portal, { redirectUri: PORTAL.redirectUri, scope: SCOPE, username: ALICE.username, password: ALICE.password, browser });

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, apps } = gatehouse.directory;
      await users.create(ALICE);
      await users.create(SUSPENDED);
      await users.suspend(SUSPENDED.username);
      const portalApp = await apps.create({
        label: 'Portal',
        redirect_uris: [PORTAL.redirectUri],
        post_logout_redirect_uris: [PORTAL.signedOut],
        auth_method: 'client_secret_basic',
        scopes: ['email', 'profile'],
      });
      const wikiApp = await apps.create({ label: 'Wiki', redirect_uris: [WIKI.redirectUri], auth_method: 'client_secret_post', scopes: ['email', 'profile'] });
      await apps.bind(portalApp.app.id, 'All Users');
      await apps.bind(wikiApp.app.id, 'All Users');
      portal = await discover({ issuer: gatehouse.issuer, clientId: portalApp.app.client_id, clientSecret: portalApp.clientSecret, authMethod: 'client_secret_basic', redirectUri: PORTAL.redirectUri });
      wiki = await discover({ issuer: gatehouse.issuer, clientId: wikiApp.app.client_id, clientSecret: wikiApp.clientSecret, authMethod: 'client_secret_post', redirectUri: WIKI.redirectUri });
    });
    after(() => gatehouse?.close());

    test('the sign-in pages: identifier first, then the password, each a form with a hidden csrf token; cookies are HttpOnly and SameSite', async () => {
      const browser = new RecordingBrowser();
      const start = await startAuthorization(portal, PORTAL.redirectUri, SCOPE);
      const outcome = await browse(browser, start.url, PORTAL.redirectUri);
      assert.ok(outcome.page);
      assert.equal(outcome.page.status, 200);
      assert.ok(new URL(outcome.page.url).pathname.startsWith('/interaction/'));
      const identifier = signInForm(outcome.page.html);
      assert.ok(identifier, 'a sign-in form');
      assert.equal(identifier.method.toLowerCase(), 'post');
      assert.deepEqual(identifier.fields.map((field) => field.name).sort(), ['csrf', 'username'], 'the first step asks only who');
      assert.match(outcome.page.html, /<input type="hidden" name="csrf" value="[^"]{16,}"/);
      assert.match(outcome.page.html, /Portal/, 'the page names the app');
      assert.match(outcome.page.html, />Continue</);

      // Without the csrf token either step is refused.
      const forgedIdentify = await browser.submit(outcome.page.url, { ...identifier, fields: identifier.fields.filter((f) => f.name !== 'csrf') }, { username: ALICE.username }, PORTAL.redirectUri);
      assert.equal(forgedIdentify.response?.status, 403);
      const passwordStep = await browser.submit(outcome.page.url, identifier, { username: ALICE.username }, PORTAL.redirectUri);
      assert.equal(passwordStep.response?.status, 200);
      const passwordHtml = (await passwordStep.response?.text()) ?? '';
      const form = signInForm(passwordHtml);
      assert.ok(form?.fields.some((f) => f.name === 'password'), 'the password step');
      assert.equal(form?.fields.find((f) => f.name === 'username')?.value, ALICE.username, 'the typed name travels on');
      assert.match(passwordHtml, /Not you\?/);
      const forged = await browser.submit(passwordStep.url, { ...form, fields: form.fields.filter((f) => f.name !== 'csrf') }, { password: ALICE.password }, PORTAL.redirectUri);
      assert.equal(forged.response?.status, 403);

      const done = await browser.submit(passwordStep.url, form, { password: ALICE.password }, PORTAL.redirectUri);
      assert.equal(done.response, undefined, 'signed in and sent back to the app');
      assert.ok(code(new URL(done.url)));

      assert.ok(browser.setCookies.length >= 2, 'interaction and session cookies were set');
      for (const cookie of browser.setCookies) {
        assert.match(cookie, /;\s*httponly/i, `HttpOnly: ${cookie}`);
        assert.match(cookie, /;\s*samesite=(lax|strict)/i, `SameSite: ${cookie}`);
      }
    });

    test('a wrong password, an unknown user and a suspended user get the same message and status', async () => {
      const attempt = async (username: string, password: string) => {
        const browser = new Browser();
        const start = await startAuthorization(portal, PORTAL.redirectUri, SCOPE);
        const outcome = await browse(browser, start.url, PORTAL.redirectUri, { username, password });
        assert.ok(outcome.page, `${username} was let in`);
        return { status: outcome.page.status, message: errorText(outcome.page.html), form: signInForm(outcome.page.html) };
      };
      const wrongPassword = await attempt(ALICE.username, 'not-the-password');
      const unknownUser = await attempt('nobody-here', 'not-the-password');
      const suspended = await attempt(SUSPENDED.username, SUSPENDED.password);
      assert.ok(wrongPassword.message, 'an error message is shown');
      assert.ok(wrongPassword.form, 'the form is shown again');
      assert.equal(unknownUser.message, wrongPassword.message);
      assert.equal(unknownUser.status, wrongPassword.status);
      assert.equal(suspended.message, wrongPassword.message);
      assert.equal(suspended.status, wrongPassword.status);
      // The username stays filled in; the password does not.
      assert.equal(unknownUser.form?.fields.find((f) => f.name === 'username')?.value, 'nobody-here');
      assert.equal(unknownUser.form?.fields.find((f) => f.name === 'password')?.value, '');
    });

    test('one Gatehouse session signs the person in to a second app without asking again', async () => {
      const { browser, tokens } = await signedIn();
      const start = await startAuthorization(wiki, WIKI.redirectUri, SCOPE);
      const outcome = await browse(browser, start.url, WIKI.redirectUri);
      assert.ok(outcome.callbackUrl, `expected no form, got a page (${outcome.page?.status})`);
      const wikiTokens = await client.authorizationCodeGrant(wiki, outcome.callbackUrl, {
        pkceCodeVerifier: start.codeVerifier,
        expectedState: start.state,
        expectedNonce: start.nonce,
        idTokenExpected: true,
      });
      assert.equal(wikiTokens.claims()?.sub, tokens.claims()?.sub);
      assert.equal(wikiTokens.claims()?.sid, tokens.claims()?.sid, 'one session');
    });

    test('prompt=none: login_required without a session, a code with one', async () => {
      const anonymous = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { prompt: 'none' });
      const refused = await browse(new Browser(), anonymous.url, PORTAL.redirectUri);
      assert.ok(refused.callbackUrl, 'prompt=none never shows a page');
      assert.equal(refused.callbackUrl.searchParams.get('error'), 'login_required');
      assert.equal(refused.callbackUrl.searchParams.get('state'), anonymous.state);
      assert.equal(code(refused.callbackUrl), null);

      const { browser } = await signedIn();
      const silent = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { prompt: 'none' });
      const outcome = await browse(browser, silent.url, PORTAL.redirectUri);
      assert.ok(outcome.callbackUrl);
      assert.ok(code(outcome.callbackUrl), `got ${outcome.callbackUrl.search}`);
      const tokens = await client.authorizationCodeGrant(portal, outcome.callbackUrl, { pkceCodeVerifier: silent.codeVerifier, expectedState: silent.state, expectedNonce: silent.nonce });
      assert.equal(tokens.claims()?.email, ALICE.email);
    });

    test('prompt=login shows the form again despite the session', async () => {
      const { browser } = await signedIn();
      const start = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { prompt: 'login' });
      const outcome = await browse(browser, start.url, PORTAL.redirectUri);
      assert.ok(outcome.page && signInForm(outcome.page.html), 'the sign-in form is shown');
      const again = await browse(browser, start.url, PORTAL.redirectUri, { username: ALICE.username, password: ALICE.password });
      assert.ok(code(again.callbackUrl));
    });

    test('max_age=0 forces a fresh authentication and a newer auth_time; a generous max_age does not', async () => {
      const { browser } = await signedIn();

      const generous = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { max_age: '3600' });
      const sso = await browse(browser, generous.url, PORTAL.redirectUri);
      assert.ok(code(sso.callbackUrl), 'within max_age the session suffices');
      const ssoTokens = await client.authorizationCodeGrant(portal, sso.callbackUrl as URL, {
        pkceCodeVerifier: generous.codeVerifier,
        expectedState: generous.state,
        expectedNonce: generous.nonce,
        maxAge: 3600,
      });
      const firstAuthTime = ssoTokens.claims()?.auth_time as number;
      assert.equal(typeof firstAuthTime, 'number', 'auth_time is in the ID token when max_age was asked');

      // auth_time has one-second resolution.
      await sleep(1100);
      const strict = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { max_age: '0' });
      const page = await browse(browser, strict.url, PORTAL.redirectUri);
      assert.ok(page.page && signInForm(page.page.html), 'max_age=0 shows the form');
      const outcome = await browse(browser, strict.url, PORTAL.redirectUri, { username: ALICE.username, password: ALICE.password });
      assert.ok(outcome.callbackUrl);
      const fresh = await client.authorizationCodeGrant(portal, outcome.callbackUrl, {
        pkceCodeVerifier: strict.codeVerifier,
        expectedState: strict.state,
        expectedNonce: strict.nonce,
        maxAge: 0,
      });
      assert.ok((fresh.claims()?.auth_time as number) > firstAuthTime, 'auth_time moved forward');
    });

    test('login_hint pre-fills the username', async () => {
      const start = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { login_hint: ALICE.email });
      const outcome = await browse(new Browser(), start.url, PORTAL.redirectUri);
      assert.ok(outcome.page);
      const form = signInForm(outcome.page.html);
      assert.equal(form?.fields.find((f) => f.name === 'username')?.value, ALICE.email);

      // Markup in a hint is text, not HTML.
      const nasty = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { login_hint: '"><script>alert(1)</script>' });
      const nastyOutcome = await browse(new Browser(), nasty.url, PORTAL.redirectUri);
      assert.ok(nastyOutcome.page);
      assert.doesNotMatch(nastyOutcome.page.html, /<script>alert/);
      assert.equal(signInForm(nastyOutcome.page.html)?.fields.find((f) => f.name === 'username')?.value, '"><script>alert(1)</script>');
    });

    test('response_mode=form_post returns an auto-posting form with code and state to the redirect URI', async () => {
      const start = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { response_mode: 'form_post' });
      const browser = new Browser();
      const outcome = await browse(browser, start.url, PORTAL.redirectUri, { username: ALICE.username, password: ALICE.password });
      assert.equal(outcome.callbackUrl, undefined, 'no redirect: the code travels in a POST');
      assert.ok(outcome.page);
      assert.equal(outcome.page.status, 200);
      const forms = parseForms(outcome.page.html);
      const post = forms.find((form) => form.action === PORTAL.redirectUri);
      assert.ok(post, `a form posting to the redirect URI: ${outcome.page.html.slice(0, 600)}`);
      assert.equal(post.method.toLowerCase(), 'post');
      const fields = Object.fromEntries(post.fields.map((f) => [f.name, f.value]));
      assert.ok(fields.code);
      assert.equal(fields.state, start.state);

      // It posts itself, and the page's CSP (if any) lets that script run.
      const script = outcome.page.html.match(/<script>([\s\S]*?)<\/script>/)?.[1];
      assert.ok(script?.includes('submit()'), 'an auto-submit script');
      // A second request in the same session answers at once: look at that response's headers.
      const again = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { response_mode: 'form_post' });
      const step = await browser.follow(again.url.href, PORTAL.redirectUri);
      assert.ok(step.response);
      assert.equal(step.response.status, 200);
      const csp = step.response.headers.get('content-security-policy');
      const againScript = (await step.response.text()).match(/<script>([\s\S]*?)<\/script>/)?.[1] ?? '';
      if (csp && /(script-src|default-src)/.test(csp)) {
        const hash = `'sha256-${createHash('sha256').update(againScript).digest('base64')}'`;
        assert.ok(csp.includes(hash), `CSP ${csp} does not allow the auto-submit script`);
      }

      // The app receives the POST and redeems the code.
      const callback = new Request(PORTAL.redirectUri, { method: 'POST', body: new URLSearchParams(fields) });
      const tokens = await client.authorizationCodeGrant(portal, callback, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce });
      assert.equal(tokens.claims()?.email, ALICE.email);
    });

    test('RP-initiated logout ends the session and returns to the registered post-logout URI', async () => {
      const { browser, tokens } = await signedIn();
      assert.equal(new URL(portal.serverMetadata().end_session_endpoint as string).pathname, '/oauth2/sessions/logout');
      const state = client.randomState();
      const url = client.buildEndSessionUrl(portal, { id_token_hint: tokens.id_token as string, post_logout_redirect_uri: PORTAL.signedOut, state });
      const step = await browser.follow(url.href, PORTAL.signedOut);
      assert.ok(step.response, 'a sign-out page');
      const html = await step.response.text();
      assert.match(html, /id="op\.logoutForm"/);
      // With a valid id_token_hint the page submits itself (no question asked): its CSP must let that script run.
      const script = html.match(/<script>([\s\S]*?)<\/script>/)?.[1];
      const csp = step.response.headers.get('content-security-policy');
      if (script && csp) {
        const hash = `'sha256-${createHash('sha256').update(script).digest('base64')}'`;
        assert.ok(csp.includes(hash), `CSP ${csp} blocks the auto-submit script`);
      }
      assert.match(html, /<button[^>]*name="logout"[^>]*value="yes"/);
      const [form] = parseForms(html).filter((f) => /logout/.test(f.action));
      assert.ok(form, 'the logout form');
      const done = await browser.submit(step.url, form, {}, PORTAL.signedOut, { name: 'logout', value: 'yes' });
      assert.equal(done.response, undefined, `expected the redirect to ${PORTAL.signedOut}`);
      const back = new URL(done.url);
      assert.equal(`${back.origin}${back.pathname}`, PORTAL.signedOut);
      assert.equal(back.searchParams.get('state'), state);

      const silent = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { prompt: 'none' });
      const outcome = await browse(browser, silent.url, PORTAL.redirectUri);
      assert.equal(outcome.callbackUrl?.searchParams.get('error'), 'login_required', 'the session is over');
    });

    test('an unregistered post_logout_redirect_uri is not redirected to', async () => {
      const { browser, tokens } = await signedIn(new HtmlBrowser());
      const evil = 'https://evil.example.test/phish';
      const url = client.buildEndSessionUrl(portal, { id_token_hint: tokens.id_token as string, post_logout_redirect_uri: evil });
      const step = await browser.follow(url.href, evil);
      assert.ok(step.response, `redirected to ${step.url}`);
      assert.equal(step.response.status, 400);
      const html = await step.response.text();
      assert.match(step.response.headers.get('content-type') ?? '', /text\/html/, 'the person gets a page, not JSON');
      assert.match(html, /post_logout_redirect_uri/);
      assert.ok(!html.includes('op.logoutForm'), 'no sign-out form that would lead there');
      assert.ok(!html.includes(`href="${evil}`), 'no link to the unregistered URI');
      // Whatever the person then does, nothing sends them to the unregistered URI.
      for (const form of parseForms(html)) {
        const submitted = await browser.submit(step.url, form, {}, evil, { name: 'logout', value: 'yes' });
        assert.ok(!submitted.url.startsWith(evil));
      }

      // The session is untouched.
      const silent = await startAuthorization(portal, PORTAL.redirectUri, SCOPE, { prompt: 'none' });
      assert.ok(code((await browse(browser, silent.url, PORTAL.redirectUri)).callbackUrl));
    });
  });
}
