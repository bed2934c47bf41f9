/**
 * The policy pages refuse what they must (issue 12 §3): their forms need the interaction's CSRF
 * token and our own origin; a step-up can't be postponed, an enrolment can't be answered with a
 * second-factor code, giving up on one is access_denied, and a denial can't be turned into a pass.
 * Both databases, real HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { totpCode } from '../../../src/authn/totp.ts';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, type client, discover, startAuthorization } from '../../helpers/rp.ts';

const PASSWORD = 'negative-policy-password-1';
const REDIRECT = 'https://neg-app.example.test/callback';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`access policy pages refuse what they must (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let rp: client.Configuration;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { apps, groups, users, accessPolicies } = gatehouse.directory;
      const everyone = await groups.get('All Users');
      const { app, clientSecret } = await apps.create({ label: 'Neg App', redirect_uris: [REDIRECT], auth_method: 'client_secret_basic' });
      await apps.bind(app.id, everyone.id);
      rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT });
      await groups.create('blocked');
      for (const name of ['eve', 'sam', 'bea']) await users.create({ username: name, email: `${name}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
      await groups.addMember('blocked', 'bea');
      await accessPolicies.create({ name: 'Blocked', resource: 'all_apps', users: 'groups', user_groups: ['blocked'], action: 'deny' });
      await accessPolicies.create({ name: 'Everyone MFA', resource: 'all_apps', action: 'require_mfa', grace_days: 3 });
      const sam = await users.get('sam');
      const { secret } = await gatehouse.runtime.factors.beginTotp(sam.id, { issuer: 'G', account: 'sam' });
      await gatehouse.runtime.factors.confirmTotp(sam.id, totpCode(secret, Date.now()));
    });
    after(() => gatehouse?.close());

    async function pageAfterPassword(username: string) {
      const browser = new Browser();
      const start = await startAuthorization(rp, REDIRECT, 'openid');
      const outcome = await browse(browser, start.url, REDIRECT, { username, password: PASSWORD });
      assert.ok(outcome.page, `a page for ${username}`);
      return { browser, page: outcome.page };
    }

    const post = (browser: Browser, page: { url: string }, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
      browser.request(new URL(`${new URL(page.url).pathname}/${path}`, gatehouse.issuer).href, { method: 'POST', body: new URLSearchParams(fields), headers });
    const csrfOf = (html: string) => parseForms(html)[0]?.fields.find((field) => field.name === 'csrf')?.value ?? '';

    test('the enrolment forms need the CSRF token and our origin; an enrolment is not answered on the second-factor form', async () => {
      const { browser, page } = await pageAfterPassword('eve');
      assert.match(page.html, /Set up two-step verification/);
      const csrf = csrfOf(page.html);
      assert.equal((await post(browser, page, 'postpone-enrolment', {})).status, 403, 'no CSRF token');
      assert.equal((await post(browser, page, 'postpone-enrolment', { csrf: 'x'.repeat(csrf.length) })).status, 403, 'a wrong one');
      assert.equal((await post(browser, page, 'postpone-enrolment', { csrf }, { origin: 'https://evil.example' })).status, 403, 'from another site');
      assert.equal((await post(browser, page, 'enrol-totp', { code: '123456' })).status, 403);
      const second = await post(browser, page, 'second-factor', { csrf, code: '123456' });
      assert.notEqual(second.status, 303, 'no pending second factor to answer');
      assert.match(await second.text(), /Set up two-step verification/);
      const eve = await gatehouse.directory.users.get('eve');
      assert.equal(await gatehouse.runtime.factors.hasSecondFactor(eve.id), false);
      // Giving up on an enrolment is a refusal: the app gets access_denied, never a code.
      const abort = await post(browser, page, 'policy-abort', { csrf });
      assert.equal(abort.status, 303);
      const end = await browser.follow(new URL(abort.headers.get('location') ?? '', gatehouse.issuer).href, REDIRECT);
      assert.equal(new URL(end.url).searchParams.get('error'), 'access_denied');
      assert.equal(new URL(end.url).searchParams.get('code'), null);
    });

    test('a step-up can not be postponed, nor skipped with the enrolment form', async () => {
      const { browser, page } = await pageAfterPassword('sam');
      // Sam has a factor: the password sign-in itself asks for it (an enrolled factor is never skipped).
      assert.match(page.html, /Two-step verification/);
      const csrf = csrfOf(page.html);
      for (const path of ['postpone-enrolment', 'enrol-totp']) {
        const response = await post(browser, page, path, { csrf, code: '000000' });
        assert.notEqual(response.status, 303, path);
        assert.doesNotMatch(response.headers.get('location') ?? '', /code=/);
      }
    });

    test('a denial is a denial: no postponing, no enrolling, and only access_denied for the app', async () => {
      const { browser, page } = await pageAfterPassword('bea');
      assert.equal(page.status, 403);
      const csrf = csrfOf(page.html);
      for (const path of ['postpone-enrolment', 'enrol-totp', 'second-factor']) {
        const response = await post(browser, page, path, { csrf, code: '000000' });
        assert.notEqual(response.status, 303, path);
      }
      const abort = await post(browser, page, 'policy-abort', { csrf });
      assert.equal(abort.status, 303);
      const end = await browser.follow(new URL(abort.headers.get('location') ?? '', gatehouse.issuer).href, REDIRECT);
      assert.equal(new URL(end.url).searchParams.get('error'), 'access_denied');
    });
  });
}
