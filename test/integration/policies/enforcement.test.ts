/**
 * Access policies enforced over real HTTP with a real relying party (openid-client), issue 12 §3:
 * a group's require_mfa steps its members up at single sign-on (the second-factor page for the
 * session's account, no new password) and leaves others alone; a person without a factor is asked
 * to enrol (postponable within the grace period, counted with an injected clock, then not); a CIDR
 * deny shows a page naming no internals and the app gets access_denied; prompt=none gets the errors
 * OIDC says; amr in the ID tokens says what was done; every denial and step-up is audited by name.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { totpCode } from '../../../src/authn/totp.ts';
import { startServer } from '../../../src/http/server.ts';
import { type Runtime, openRuntime } from '../../../src/runtime.ts';
import { Browser, parseForms, storeSetCookies } from '../../helpers/browser.ts';
import { DATABASE_KINDS, freshConfig } from '../../helpers/databases.ts';
import { freePort } from '../../helpers/net.ts';
import { browse, client, discover, startAuthorization } from '../../helpers/rp.ts';
import { TOTP_PERIOD_MS, freshTotpStep } from '../../helpers/totp.ts';

const PASSWORD = 'policy-test-password-1';
const WIKI = 'https://wiki.example.test/callback';
const PAYROLL = 'https://payroll.example.test/callback';
const PERIOD_MS = TOTP_PERIOD_MS;
const DAY_MS = 86_400_000;

/** A browser whose connections come from another loopback address (127.0.0.x), for the CIDR conditions. */
class BrowserAt extends Browser {
  readonly localAddress: string;
  constructor(localAddress: string) {
    super();
    this.localAddress = localAddress;
  }
  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const body = init.body === undefined || init.body === null ? undefined : String(init.body);
    if (body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
    const response = await new Promise<Response>((resolve, reject) => {
      const req = httpRequest(url, { method: init.method ?? 'GET', headers: Object.fromEntries(headers), localAddress: this.localAddress }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const out = new Headers();
          for (const [name, value] of Object.entries(res.headers)) for (const v of Array.isArray(value) ? value : [value ?? '']) out.append(name, v);
          const status = res.statusCode ?? 500;
          resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: out }));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
    storeSetCookies(this.cookies, response.headers.getSetCookie());
    return response;
  }
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`access policies at sign-in and single sign-on (${kind})`, { skip }, () => {
    let runtime: Runtime;
    let server: Awaited<ReturnType<typeof startServer>>;
    let cleanup: () => Promise<void>;
    let issuer: string;
    let wiki: client.Configuration;
    let payroll: client.Configuration;
    let now = Date.parse('2026-12-01T09:00:00Z');

    before(async () => {
      const port = await freePort();
      issuer = `http://127.0.0.1:${port}`;
      const fresh = await freshConfig(kind, { issuer, port, host: '127.0.0.1' });
      cleanup = fresh.cleanup;
      runtime = await openRuntime(fresh.config);
      server = await startServer(runtime, { logLevel: 'warn', keyPollIntervalMs: 200, clock: () => now });
      const { apps, groups, users } = runtime.directory;
      const everyone = await groups.get('All Users');
      const created = await Promise.all([
        apps.create({ label: 'Wiki', redirect_uris: [WIKI], auth_method: 'client_secret_basic' }),
        apps.create({ label: 'Payroll', redirect_uris: [PAYROLL], auth_method: 'client_secret_basic' }),
      ]);
      for (const { app } of created) await apps.bind(app.id, everyone.id);
      const [w, p] = created;
      wiki = await discover({ issuer, clientId: w.app.client_id, clientSecret: w.clientSecret, authMethod: 'client_secret_basic', redirectUri: WIKI });
      payroll = await discover({ issuer, clientId: p.app.client_id, clientSecret: p.clientSecret, authMethod: 'client_secret_basic', redirectUri: PAYROLL });
      await groups.create('finance');
      for (const name of ['fay', 'gina', 'olaf', 'nora']) await users.create({ username: name, email: `${name}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
      await groups.addMember('finance', 'fay');
      await groups.addMember('finance', 'gina');
      await runtime.directory.accessPolicies.create({ name: 'Finance MFA', resource: 'apps', apps: ['Payroll'], users: 'groups', user_groups: ['finance'], action: 'require_mfa', grace_days: 7 });
    });
    after(async () => {
      await server?.close();
      await runtime?.close();
      await cleanup?.();
    });

    async function codeToTokens(config: client.Configuration, start: Awaited<ReturnType<typeof startAuthorization>>, callbackUrl: URL) {
      return client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });
    }

    async function signInTo(config: client.Configuration, redirect: string, username: string, browser: Browser, extra: Record<string, string> = {}) {
      const start = await startAuthorization(config, redirect, 'openid', extra);
      const outcome = await browse(browser, start.url, redirect, { username, password: PASSWORD });
      return { start, ...outcome };
    }

    async function submit(browser: Browser, page: { url: string; html: string }, actionEnd: string, values: Record<string, string>, stopAt: string) {
      const form = parseForms(page.html).find((f) => f.action.endsWith(actionEnd));
      assert.ok(form, `a form posting to …${actionEnd}: ${page.html.slice(0, 400)}`);
      const step = await browser.submit(page.url, form, values, stopAt);
      if (!step.response) return { callbackUrl: new URL(step.url) };
      return { page: { url: step.url, status: step.response.status, html: await step.response.text() } };
    }

    /**
     * The newest access-policy audit event, once it is the one expected: the server records a
     * decision after answering (app.ts, auditPolicyDecision), so the page can arrive first. Waits up
     * to 5 s for `expected`, then returns the newest event whatever it is, for the assertions to judge.
     */
    const lastPolicyEvent = async (expected: { policy?: string; decision?: string }) => {
      const newest = async () => (await runtime.directory.audit.list({ action: 'user.access_policy', limit: 1, offset: 0 })).events[0];
      const matches = (event: Awaited<ReturnType<typeof newest>>) =>
        event !== undefined && (expected.policy === undefined || event.details.policy === expected.policy) && (expected.decision === undefined || event.details.decision === expected.decision);
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
        const event = await newest();
        if (matches(event)) return event;
      }
      return newest();
    };

    test('a member of the group is stepped up at single sign-on into the app (no new password); amr then says mfa; others pass', async () => {
      const browser = new Browser();
      // Signed in to the Wiki (no policy) before enrolling: a session without a second factor.
      const first = await signInTo(wiki, WIKI, 'fay', browser);
      assert.ok(first.callbackUrl, first.page?.html.slice(0, 300) ?? '');
      assert.deepEqual((await codeToTokens(wiki, first.start, first.callbackUrl)).claims()?.amr, ['pwd']);
      const stepStart = await freshTotpStep();
      const fay = await runtime.directory.users.get('fay');
      const { secret } = await runtime.factors.beginTotp(fay.id, { issuer: 'Gatehouse', account: 'fay' });
      await runtime.factors.confirmTotp(fay.id, totpCode(secret, stepStart - PERIOD_MS));

      // prompt=none into Payroll: the app is told interaction is required, nothing is shown.
      const silent = await startAuthorization(payroll, PAYROLL, 'openid', { prompt: 'none' });
      const silentStep = await browser.follow(silent.url.href, PAYROLL);
      assert.equal(new URL(silentStep.url).searchParams.get('error'), 'interaction_required');

      const start = await startAuthorization(payroll, PAYROLL, 'openid');
      const step = await browser.follow(start.url.href, PAYROLL);
      assert.ok(step.response, 'a page, not a code');
      const html = await step.response.text();
      assert.match(html, /Two-step verification/);
      assert.match(html, /Signing in as <strong>fay<\/strong>/);
      assert.ok(!parseForms(html).some((f) => f.fields.some((field) => field.name === 'password')), 'no password asked again');
      assert.equal((await lastPolicyEvent({ policy: 'Finance MFA', decision: 'step_up' }))?.details.policy, 'Finance MFA');
      assert.equal((await lastPolicyEvent({ policy: 'Finance MFA', decision: 'step_up' }))?.details.decision, 'step_up');

      const wrong = await submit(browser, { url: step.url, html }, '/second-factor', { code: '000000' }, PAYROLL);
      assert.ok(wrong.page, 'a wrong code is refused');
      const done = await submit(browser, wrong.page, '/second-factor', { code: totpCode(secret, stepStart) }, PAYROLL);
      assert.ok(done.callbackUrl, done.page?.html.slice(0, 300) ?? '');
      const tokens = await codeToTokens(payroll, start, done.callbackUrl);
      assert.deepEqual(tokens.claims()?.amr, ['pwd', 'otp', 'mfa']);

      // The session now has two factors: the next single sign-on (even prompt=none) passes.
      const again = await startAuthorization(payroll, PAYROLL, 'openid', { prompt: 'none' });
      const againStep = await browser.follow(again.url.href, PAYROLL);
      assert.ok(new URL(againStep.url).searchParams.get('code'), againStep.url);

      // Olaf is not in the group: signed in with a password alone, Payroll lets him through.
      const olaf = await signInTo(payroll, PAYROLL, 'olaf', new Browser());
      assert.ok(olaf.callbackUrl, olaf.page?.html.slice(0, 300) ?? '');
      assert.deepEqual((await codeToTokens(payroll, olaf.start, olaf.callbackUrl)).claims()?.amr, ['pwd']);
    });

    test('without a factor: asked to enrol right after signing in, may postpone within the grace period, must enrol after it', async () => {
      const browser = new Browser();
      const first = await signInTo(payroll, PAYROLL, 'gina', browser);
      assert.ok(first.page, 'the enrolment page, not a code');
      assert.equal(first.page.status, 200);
      assert.match(first.page.html, /Set up two-step verification/);
      assert.match(first.page.html, /<img src="data:image\/svg\+xml;base64,/);
      const secret = first.page.html.match(/<code id="totp-secret">([A-Z2-7]+)<\/code>/)?.[1];
      assert.ok(secret, 'the secret in text');
      assert.match(first.page.html, /Remind me later/);
      assert.match(first.page.html, /Tue, 08 Dec 2026 09:00:00 GMT/, 'the deadline: 7 days from the first time');
      assert.equal((await lastPolicyEvent({ decision: 'enrolment_offered' }))?.details.decision, 'enrolment_offered');

      const postponed = await submit(browser, first.page, '/postpone-enrolment', {}, PAYROLL);
      assert.ok(postponed.callbackUrl, postponed.page?.html.slice(0, 300) ?? '');
      assert.deepEqual((await codeToTokens(payroll, first.start, postponed.callbackUrl)).claims()?.amr, ['pwd']);
      // The same session is not asked again while the grace period lasts.
      const sso = await startAuthorization(payroll, PAYROLL, 'openid');
      assert.ok(new URL((await browser.follow(sso.url.href, PAYROLL)).url).searchParams.get('code'));

      // Six days later, a new sign-in: still postponable, the deadline unchanged (counted from the first time).
      now += 6 * DAY_MS;
      const later = await signInTo(payroll, PAYROLL, 'gina', new Browser());
      assert.ok(later.page);
      assert.match(later.page.html, /Remind me later/);
      assert.match(later.page.html, /Tue, 08 Dec 2026 09:00:00 GMT/);

      // Past the deadline: no postponing, even by posting the form anyway; the same session is asked again.
      now += 2 * DAY_MS;
      const afterDeadline = await startAuthorization(payroll, PAYROLL, 'openid');
      const step = await browser.follow(afterDeadline.url.href, PAYROLL);
      assert.ok(step.response, 'the postponing session is asked again');
      const page = { url: step.url, html: await step.response.text() };
      assert.match(page.html, /Set up two-step verification/);
      assert.doesNotMatch(page.html, /Remind me later/);
      assert.equal((await lastPolicyEvent({ decision: 'enrolment_required' }))?.details.decision, 'enrolment_required');
      const csrf = parseForms(page.html)[0]?.fields.find((f) => f.name === 'csrf')?.value ?? '';
      const sneaky = await submit(browser, { url: page.url, html: `<form method="post" action="${page.url}/postpone-enrolment"><input type="hidden" name="csrf" value="${csrf}"></form>` }, '/postpone-enrolment', {}, PAYROLL);
      assert.ok(sneaky.page, 'postponing after the deadline is refused');
      assert.match(sneaky.page.html, /must be set up now/);

      const stepStart = await freshTotpStep();
      const wrong = await submit(browser, page, '/enrol-totp', { code: '000000' }, PAYROLL);
      assert.ok(wrong.page);
      assert.match(wrong.page.html, /That code is not right/);
      assert.ok(wrong.page.html.includes(secret) || /<code id="totp-secret">/.test(wrong.page.html));
      const enrolledSecret = wrong.page.html.match(/<code id="totp-secret">([A-Z2-7]+)<\/code>/)?.[1] ?? '';
      assert.equal(enrolledSecret, page.html.match(/<code id="totp-secret">([A-Z2-7]+)<\/code>/)?.[1], 'the same secret after a wrong code');
      const enrolled = await submit(browser, wrong.page, '/enrol-totp', { code: totpCode(enrolledSecret, stepStart) }, PAYROLL);
      assert.ok(enrolled.page, 'the recovery codes, shown once');
      assert.equal((enrolled.page.html.match(/<li><code>/g) ?? []).length, 10);
      const continueUrl = enrolled.page.html.match(/<a class="button" href="([^"]+)">Continue/)?.[1]?.replace(/&amp;/g, '&');
      assert.ok(continueUrl);
      const finished = await browser.follow(new URL(continueUrl, issuer).href, PAYROLL);
      const callback = new URL(finished.url);
      assert.ok(callback.searchParams.get('code'), finished.url);
      assert.deepEqual((await codeToTokens(payroll, afterDeadline, callback)).claims()?.amr, ['pwd', 'otp', 'mfa']);
      const gina = await runtime.directory.users.get('gina');
      assert.equal(await runtime.factors.hasSecondFactor(gina.id), true);
    });

    test('a CIDR deny: a page naming no internals, access_denied for the app (prompt=none too); other addresses pass', async () => {
      const office = await runtime.directory.accessPolicies.create({ name: 'Wiki outside the office', resource: 'apps', apps: ['Wiki'], addresses_not_in: ['127.0.0.2/32', '2001:db8::/32'], action: 'deny', position: 1 });
      try {
        const outside = new BrowserAt('127.0.0.3');
        const denied = await signInTo(wiki, WIKI, 'nora', outside);
        assert.ok(denied.page, 'a page, not a code');
        assert.equal(denied.page.status, 403);
        assert.match(denied.page.html, /does not allow this sign-in/);
        assert.ok(!denied.page.html.includes('Wiki outside the office'), 'the policy is not named to the person');
        assert.ok(!denied.page.html.includes('127.0.0.2'), 'nor the addresses');
        const event = await lastPolicyEvent({ policy: 'Wiki outside the office', decision: 'denied' });
        assert.equal(event?.details.policy, 'Wiki outside the office');
        assert.equal(event?.details.decision, 'denied');
        assert.equal(event?.outcome, 'failure');
        assert.equal(event?.source_ip, '127.0.0.3');
        const back = await submit(outside, denied.page, '/policy-abort', {}, WIKI);
        assert.ok(back.callbackUrl);
        assert.equal(back.callbackUrl.searchParams.get('error'), 'access_denied');
        // The session exists (the password was right); prompt=none is denied outright.
        const silent = await startAuthorization(wiki, WIKI, 'openid', { prompt: 'none' });
        assert.equal(new URL((await outside.follow(silent.url.href, WIKI)).url).searchParams.get('error'), 'access_denied');
        // Payroll is not covered by this policy: the same session gets there.
        const payrollStart = await startAuthorization(payroll, PAYROLL, 'openid');
        assert.ok(new URL((await outside.follow(payrollStart.url.href, PAYROLL)).url).searchParams.get('code'));

        const inside = await signInTo(wiki, WIKI, 'nora', new BrowserAt('127.0.0.2'));
        assert.ok(inside.callbackUrl, inside.page?.html.slice(0, 300) ?? '');
        assert.ok(await codeToTokens(wiki, inside.start, inside.callbackUrl));

        // Disabled, the policy decides nothing.
        await runtime.directory.accessPolicies.update(office.id, { enabled: false });
        const disabled = await signInTo(wiki, WIKI, 'nora', new BrowserAt('127.0.0.3'));
        assert.ok(disabled.callbackUrl, disabled.page?.html.slice(0, 300) ?? '');
      } finally {
        await runtime.directory.accessPolicies.remove(office.id);
      }
    });

    test('the user portal can be denied (resource portal), apps stay reachable', async () => {
      const portalDeny = await runtime.directory.accessPolicies.create({ name: 'No portal for Nora', resource: 'portal', users: 'groups', user_groups: [(await runtime.directory.groups.create('portal-less')).id], action: 'deny' });
      await runtime.directory.groups.addMember('portal-less', 'nora');
      try {
        const portal = await discover({ issuer, clientId: 'gatehouse-user-portal', authMethod: 'none', redirectUri: `${issuer}/callback` });
        const browser = new Browser();
        const denied = await signInTo(portal, `${issuer}/callback`, 'nora', browser);
        assert.ok(denied.page);
        assert.equal(denied.page.status, 403);
        assert.equal((await lastPolicyEvent({ policy: 'No portal for Nora' }))?.details.policy, 'No portal for Nora');
        const wikiStart = await startAuthorization(wiki, WIKI, 'openid');
        assert.ok(new URL((await browser.follow(wikiStart.url.href, WIKI)).url).searchParams.get('code'), 'the Wiki is still reachable');
        const olaf = await signInTo(portal, `${issuer}/callback`, 'olaf', new Browser());
        assert.ok(olaf.callbackUrl, 'others reach the portal');
      } finally {
        await runtime.directory.accessPolicies.remove(portalDeny.id);
      }
    });
  });
}
