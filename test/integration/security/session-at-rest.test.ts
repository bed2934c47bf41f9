/**
 * The `_session` cookie is a bearer credential for single sign-on: whoever holds its value is
 * signed in everywhere for the session's lifetime. A copy of the database (a backup, with the key
 * file beside it or not) must not hand it out: after people sign in, pick an account at a prompt
 * and use their tokens, no column of any table holds a cookie's value, and the sessions still work
 * (single sign-on to a second app, tokens bound to the session, logout).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import { browse } from '../../helpers/rp.ts';
import {
  type Browser,
  REDIRECT_URI,
  type TestApp,
  client,
  createApp,
  exchangeOk,
  obtainCode,
  parseForms,
  shutdown,
  startWithStaff,
  userinfo,
} from './support.ts';

/** Every value of every row of every table, as text. */
async function dump(gatehouse: TestGatehouse): Promise<Map<string, string>> {
  const db = gatehouse.runtime.storage.db;
  const out = new Map<string, string>();
  for (const { name } of await db.introspection.getTables()) {
    // biome-ignore lint/suspicious/noExplicitAny: every table, whatever its columns.
    out.set(name, JSON.stringify(await (db as any).selectFrom(name).selectAll().execute()));
  }
  assert.ok(out.has('oidc_payloads'), 'the dump sees the protocol rows');
  return out;
}

const sessionCookie = (browser: Browser): string => {
  const value = browser.cookies.get('_session');
  assert.ok(value && value.length >= 16, `the browser holds a session cookie (${[...browser.cookies.keys()].join(', ')})`);
  return value;
};

const sessionRows = (gatehouse: TestGatehouse) =>
  gatehouse.runtime.storage.db.selectFrom('oidc_payloads').select(['id', 'payload']).where('model', '=', 'Session').execute();

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`session ids at rest (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let portal: TestApp;
    let wiki: TestApp;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'sara');
      portal = await createApp(gatehouse, { label: 'Portal', group: 'staff' });
      wiki = await createApp(gatehouse, { label: 'Wiki', group: 'staff' });
    });
    after(() => shutdown(gatehouse));

    test('no table holds the value of a session cookie, and the session still signs in, binds tokens and ends', async () => {
      const sara = await obtainCode(portal, 'sara');
      const saraCookie = sessionCookie(sara.browser);
      const saraTokens = await exchangeOk(gatehouse, portal, sara);
      // A second person, so that more than one session is stored.
      await gatehouse.directory.users.create({ username: 'omar', email: 'omar@example.com', password: 'correct-horse-battery' });
      await gatehouse.directory.groups.addMember('staff', 'omar');
      const omar = await obtainCode(portal, 'omar');
      const omarCookie = sessionCookie(omar.browser);
      assert.notEqual(saraCookie, omarCookie);

      // Single sign-on to the wiki: no form, a code straight away, from the same session.
      const sso = await obtainCode(wiki, 'sara', { browser: sara.browser, password: 'not-asked-for' });
      assert.equal(sessionCookie(sara.browser), saraCookie, 'the same session');
      const ssoTokens = await exchangeOk(gatehouse, wiki, sso);
      // The access token expires with the session: userinfo finds the session by its uid.
      const info = await userinfo(gatehouse, ssoTokens.access_token);
      assert.equal(info.status, 200, info.text);

      // An interaction started while signed in (the account chooser) stores who the session belongs to.
      const chooser = await client.buildAuthorizationUrl(wiki.config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        prompt: 'select_account',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      const page = await browse(sara.browser, chooser, REDIRECT_URI);
      assert.equal(page.page?.status, 200, 'the account chooser is shown');
      assert.equal(sessionCookie(sara.browser), saraCookie);

      const tables = await dump(gatehouse);
      assert.ok((await sessionRows(gatehouse)).length >= 2, 'sessions are stored');
      for (const [who, cookie] of [
        ['sara', saraCookie],
        ['omar', omarCookie],
      ] as const) {
        const forms = [cookie, encodeURIComponent(cookie), Buffer.from(cookie).toString('base64'), Buffer.from(cookie).toString('base64url'), Buffer.from(cookie).toString('hex')];
        for (const [table, text] of tables) {
          for (const form of forms) assert.ok(!text.includes(form), `${who}'s session cookie found in ${table}`);
        }
      }

      // Logout ends sara's session (and not omar's).
      const logout = await sara.browser.follow(client.buildEndSessionUrl(portal.config, { id_token_hint: saraTokens.id_token }).href, REDIRECT_URI);
      assert.ok(logout.response, 'a sign-out page');
      const [form] = parseForms(await logout.response.text()).filter((f) => /logout/.test(f.action));
      assert.ok(form, 'the logout form');
      const done = await sara.browser.submit(logout.url, form, {}, REDIRECT_URI, { name: 'logout', value: 'yes' });
      assert.ok(done.response && done.response.status < 400, `signed out (${done.response?.status})`);
      const silent = await browse(sara.browser, await silentRequest(wiki), REDIRECT_URI);
      assert.equal(silent.callbackUrl?.searchParams.get('error'), 'login_required', 'sara is signed out');
      const stillOmar = await browse(omar.browser, await silentRequest(wiki), REDIRECT_URI);
      assert.ok(stillOmar.callbackUrl?.searchParams.get('code'), `omar is still signed in (${stillOmar.callbackUrl?.href ?? stillOmar.page?.status})`);
    });
  });
}

async function silentRequest(app: TestApp): Promise<URL> {
  return client.buildAuthorizationUrl(app.config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    prompt: 'none',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
}
