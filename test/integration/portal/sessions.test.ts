/**
 * The user portal's "Sessions and apps": a person's Gatehouse sessions (each browser signed in, where
 * and with what, which apps were signed in to from it) and the apps holding their grants, and the
 * self-service API that ends them (/api/me/sessions, /api/me/app-grants). Real server, real
 * sign-in pages, openid-client as the apps.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import { adminKey, call } from '../../helpers/api.ts';
import { Browser, parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { portalSignIn } from '../../helpers/portal.ts';
import { browse, client, discover, startAuthorization } from '../../helpers/rp.ts';
import { purgeExpired } from '../../../src/oidc/adapter.ts';
import { ACTIVITY_INTERVAL_SECONDS, LONGEST_SESSION_SECONDS, createSessionService, describeUserAgent } from '../../../src/oidc/sessions.ts';

const PASSWORD = 'sessions-password-1';
const CHROME_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const SAFARI_ON_IOS = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';
const WIKI_REDIRECT = 'https://wiki.example.test/oidc/cb';
const NOTES_REDIRECT = 'https://notes.example.test/cb';

/** A browser that says what it is, as real ones do. */
class NamedBrowser extends Browser {
  readonly userAgent: string;
  constructor(userAgent: string) {
    super();
    this.userAgent = userAgent;
  }
  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', this.userAgent);
    return super.request(url, { ...init, headers });
  }
}

interface RegisteredApp {
  id: string;
  label: string;
  config: client.Configuration;
  redirectUri: string;
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Sessions and apps in the user portal (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let wiki: RegisteredApp;
    let notes: RegisteredApp;

    const person = (username: string) => gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD, state: 'ACTIVATED' });
    const asToken = (token: string, method: string, path: string) => call(gatehouse, method, path, undefined, { key: token, bearer: true });
    const sessionsOf = async (token: string) => {
      const listed = await asToken(token, 'GET', '/api/me/sessions');
      assert.equal(listed.status, 200, listed.text);
      return listed.body.data as Array<{ id: string; current: boolean; device: string; browser: string | null; os: string | null; ip: string | null; user_agent: string | null; signed_in_at: string; last_seen_at: string; apps: Array<{ id: string; label: string }> }>;
    };
    const currentSession = async (token: string) => {
      const current = (await sessionsOf(token)).find((session) => session.current);
      assert.ok(current, 'the calling token’s session is marked current');
      return current;
    };

    async function registerApp(label: string, redirectUri: string, refreshToken: boolean): Promise<RegisteredApp> {
      const { app, clientSecret } = await gatehouse.directory.apps.create({ label, redirect_uris: [redirectUri], auth_method: 'client_secret_basic', refresh_token: refreshToken, scopes: ['email', 'profile'] });
      await gatehouse.directory.apps.bind(app.id, 'All Users');
      const config = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri });
      return { id: app.id, label, config, redirectUri };
    }

    /**
     * An app's sign-in in that browser: silent when its Gatehouse session signs the person in, else
     * through the sign-in pages when `username` is given. `page` when it stopped at a Gatehouse page.
     */
    async function appSignIn(app: RegisteredApp, browser: Browser, options: { username?: string; scope?: string } = {}) {
      const start = await startAuthorization(app.config, app.redirectUri, options.scope ?? 'openid email');
      const outcome = await browse(browser, start.url, app.redirectUri, options.username ? { username: options.username, password: PASSWORD } : undefined);
      if (!outcome.callbackUrl) return { page: outcome.page };
      const tokens = await client.authorizationCodeGrant(app.config, outcome.callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce });
      return { tokens };
    }

    /** Whether the browser's Gatehouse session still signs it in to the wiki without a password. */
    async function signsInSilently(browser: Browser): Promise<boolean> {
      const outcome = await appSignIn(wiki, browser);
      if (outcome.tokens) return true;
      assert.match(new URL(outcome.page?.url ?? 'http://x/').pathname, /^\/interaction\//, 'the sign-in page');
      assert.match(outcome.page?.html ?? '', /name="username"/, 'asks who is signing in');
      return false;
    }

    const userinfoStatus = async (accessToken: string) => (await fetch(`${gatehouse.issuer}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).status;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      wiki = await registerApp('Wiki', WIKI_REDIRECT, false);
      notes = await registerApp('Notes', NOTES_REDIRECT, true);
    });
    after(() => gatehouse?.close());

    test('two sign-ins are listed newest first, the calling one marked current, with device, address and the apps used in each', async () => {
      const alice = await person('alice');
      const laptop = new NamedBrowser(CHROME_ON_LINUX);
      const phone = new NamedBrowser(SAFARI_ON_IOS);
      const onLaptop = await portalSignIn(gatehouse, 'alice', PASSWORD, { browser: laptop });
      assert.ok((await appSignIn(wiki, laptop)).tokens, 'single sign-on into the wiki');
      const onPhone = await portalSignIn(gatehouse, 'alice', PASSWORD, { browser: phone });

      const listed = await sessionsOf(onLaptop.accessToken);
      assert.equal(listed.length, 2, JSON.stringify(listed));
      assert.ok((listed[0]?.signed_in_at ?? '') >= (listed[1]?.signed_in_at ?? ''), 'newest first (to the second)');
      const older = listed.find((session) => session.current);
      const newest = listed.find((session) => !session.current);
      assert.ok(older && newest, 'the laptop’s token came from the laptop’s session, marked current');
      assert.equal(older.device, 'Chrome on Linux');
      assert.equal(older.browser, 'Chrome');
      assert.equal(older.os, 'Linux');
      assert.equal(older.user_agent, CHROME_ON_LINUX);
      assert.equal(newest.device, 'Safari on iOS');
      assert.equal(older.ip, '127.0.0.1');
      assert.deepEqual(older.apps, [{ id: wiki.id, label: 'Wiki' }], 'the wiki, and not the built-in portal');
      assert.deepEqual(newest.apps, []);
      for (const session of listed) {
        assert.match(session.id, /^[A-Za-z0-9_-]+$/);
        assert.ok(Date.parse(session.last_seen_at) >= Date.parse(session.signed_in_at));
      }
      // The id is the session's uid, never its cookie.
      const listedText = JSON.stringify(listed);
      for (const cookie of [...laptop.cookies.values(), ...phone.cookies.values()]) assert.ok(!listedText.includes(cookie), 'no cookie value in the listing');

      const fromPhone = await sessionsOf(onPhone.accessToken);
      assert.deepEqual(
        fromPhone.map((session) => [session.id, session.current]).sort(),
        [
          [newest.id, true],
          [older.id, false],
        ].sort(),
      );
      // Someone else sees only their own.
      await person('bob');
      const bob = await portalSignIn(gatehouse, 'bob', PASSWORD);
      const bobs = await sessionsOf(bob.accessToken);
      assert.equal(bobs.length, 1);
      assert.ok(!listed.some((session) => session.id === bobs[0]?.id));
      assert.ok(alice.id);
    });

    test('signing the other session out: its cookie gets the sign-in page again, its app sign-ins end, the current one still signs in silently', async () => {
      const carol = await person('carol');
      const laptop = new NamedBrowser(CHROME_ON_LINUX);
      const phone = new NamedBrowser(SAFARI_ON_IOS);
      const onLaptop = await portalSignIn(gatehouse, 'carol', PASSWORD, { browser: laptop });
      const onPhone = await portalSignIn(gatehouse, 'carol', PASSWORD, { browser: phone });
      const phoneWiki = (await appSignIn(wiki, phone)).tokens;
      assert.ok(phoneWiki);
      assert.equal(await userinfoStatus(phoneWiki.access_token), 200);

      const phoneSession = (await sessionsOf(onLaptop.accessToken)).find((session) => !session.current);
      assert.ok(phoneSession);
      const ended = await asToken(onLaptop.accessToken, 'DELETE', `/api/me/sessions/${phoneSession.id}`);
      assert.equal(ended.status, 204, ended.text);

      assert.equal(await signsInSilently(phone), false, 'the phone’s cookie signs no one in');
      assert.equal(await signsInSilently(laptop), true, 'the laptop is still signed in');
      assert.equal(await userinfoStatus(phoneWiki.access_token), 401, 'the wiki sign-in made on the phone ended, as at RP-initiated logout');
      assert.equal((await asToken(onPhone.accessToken, 'GET', '/api/me/sessions')).status, 401, 'the phone’s portal sign-in ended too');
      const left = await sessionsOf(onLaptop.accessToken);
      assert.deepEqual(
        left.map((session) => session.id),
        [(await currentSession(onLaptop.accessToken)).id],
      );

      const again = await asToken(onLaptop.accessToken, 'DELETE', `/api/me/sessions/${phoneSession.id}`);
      assert.equal(again.status, 404, again.text);
      assert.equal(again.body.code, 'session.not_found');

      const { events } = await gatehouse.directory.audit.list({ action: 'self.session.end', actor: carol.id });
      const success = events.find((event) => event.outcome === 'success');
      assert.ok(success, JSON.stringify(events));
      assert.deepEqual(success.actor, { type: 'user', id: carol.id, name: 'carol' });
      assert.deepEqual(success.target, { type: 'session', id: phoneSession.id, name: 'Safari on iOS' });
      assert.deepEqual(success.details, { apps_signed_out: ['Wiki'] });
      assert.equal(success.source_ip, '127.0.0.1');
    });

    test('ending the current session signs its own browser out', async () => {
      await person('dan');
      const laptop = new NamedBrowser(CHROME_ON_LINUX);
      const signedIn = await portalSignIn(gatehouse, 'dan', PASSWORD, { browser: laptop });
      const current = await currentSession(signedIn.accessToken);
      const ended = await asToken(signedIn.accessToken, 'DELETE', `/api/me/sessions/${current.id}`);
      assert.equal(ended.status, 204, ended.text);
      assert.equal(await signsInSilently(laptop), false);
      assert.equal((await asToken(signedIn.accessToken, 'GET', '/api/me/sessions')).status, 401);
      // What was recorded of it went with it, and the call that ended it did not write it back.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const { db } = gatehouse.runtime.storage;
      assert.equal(await db.selectFrom('session_activity').select('session_uid').where('session_uid', '=', current.id).executeTakeFirst(), undefined);
    });

    test('sign out everywhere: every session and every grant, refresh tokens too; signing in again works', async () => {
      const erin = await person('erin');
      const laptop = new NamedBrowser(CHROME_ON_LINUX);
      const phone = new NamedBrowser(SAFARI_ON_IOS);
      const onLaptop = await portalSignIn(gatehouse, 'erin', PASSWORD, { browser: laptop });
      await portalSignIn(gatehouse, 'erin', PASSWORD, { browser: phone });
      const offline = (await appSignIn(notes, laptop, { scope: 'openid email offline_access' })).tokens;
      assert.ok(offline?.refresh_token, 'Notes has offline access');
      const phoneWiki = (await appSignIn(wiki, phone)).tokens;
      assert.ok(phoneWiki);
      assert.equal((await sessionsOf(onLaptop.accessToken)).length, 2);

      const everywhere = await asToken(onLaptop.accessToken, 'DELETE', '/api/me/sessions');
      assert.equal(everywhere.status, 204, everywhere.text);

      assert.equal(await signsInSilently(laptop), false);
      assert.equal(await signsInSilently(phone), false);
      await assert.rejects(client.refreshTokenGrant(notes.config, offline.refresh_token), (error: { error?: string }) => error.error === 'invalid_grant');
      assert.equal(await userinfoStatus(offline.access_token), 401);
      assert.equal(await userinfoStatus(phoneWiki.access_token), 401);
      assert.equal((await asToken(onLaptop.accessToken, 'GET', '/api/me/sessions')).status, 401);

      const [event] = (await gatehouse.directory.audit.list({ action: 'self.session.end_all', actor: erin.id })).events;
      assert.ok(event);
      assert.deepEqual(event.actor, { type: 'user', id: erin.id, name: 'erin' });
      assert.deepEqual(event.target, { type: 'user', id: erin.id, name: 'erin' });
      assert.deepEqual(event.details, { sessions: 2, grants: 4 });

      const fresh = await portalSignIn(gatehouse, 'erin', PASSWORD, { browser: laptop });
      const listed = await sessionsOf(fresh.accessToken);
      assert.equal(listed.length, 1);
      assert.equal(listed[0]?.current, true);
      const grants = await asToken(fresh.accessToken, 'GET', '/api/me/app-grants');
      assert.deepEqual(grants.body, { data: [] });
    });

    test('apps signed in to are listed; revoking one ends its refresh token (invalid_grant) and leaves the others; a new sign-in works', async () => {
      const fay = await person('fay');
      const laptop = new NamedBrowser(CHROME_ON_LINUX);
      const portal = await portalSignIn(gatehouse, 'fay', PASSWORD, { browser: laptop });
      const offline = (await appSignIn(notes, laptop, { scope: 'openid email offline_access' })).tokens;
      assert.ok(offline?.refresh_token);
      const wikiTokens = (await appSignIn(wiki, laptop)).tokens;
      assert.ok(wikiTokens);

      const listed = await asToken(portal.accessToken, 'GET', '/api/me/app-grants');
      assert.equal(listed.status, 200, listed.text);
      const grants = listed.body.data as Array<Record<string, unknown>>;
      assert.deepEqual(grants.map((grant) => grant.label).sort(), ['Notes', 'Wiki'], 'registered apps only: no portal');
      const notesGrant = grants.find((grant) => grant.app_id === notes.id);
      assert.ok(notesGrant);
      assert.equal(notesGrant.client_id, notes.config.clientMetadata().client_id);
      assert.equal(notesGrant.has_icon, false);
      assert.equal(notesGrant.has_refresh_tokens, true);
      assert.ok(Date.parse(String(notesGrant.last_used_at)) >= Date.parse(String(notesGrant.first_signed_in_at)));
      assert.equal(grants.find((grant) => grant.app_id === wiki.id)?.has_refresh_tokens, false);

      const revoked = await asToken(portal.accessToken, 'DELETE', `/api/me/app-grants/${notes.id}`);
      assert.equal(revoked.status, 204, revoked.text);
      await assert.rejects(client.refreshTokenGrant(notes.config, offline.refresh_token), (error: { error?: string }) => error.error === 'invalid_grant');
      assert.equal(await userinfoStatus(offline.access_token), 401);
      assert.equal(await userinfoStatus(wikiTokens.access_token), 200, 'the wiki keeps its sign-in');
      assert.equal(await userinfoStatus(portal.accessToken), 200, 'and so does the portal');
      const after = (await asToken(portal.accessToken, 'GET', '/api/me/app-grants')).body.data as Array<{ app_id: string }>;
      assert.deepEqual(
        after.map((grant) => grant.app_id),
        [wiki.id],
      );
      const twice = await asToken(portal.accessToken, 'DELETE', `/api/me/app-grants/${notes.id}`);
      assert.equal(twice.status, 404, twice.text);
      assert.equal(twice.body.code, 'app_grant.not_found');

      // The Gatehouse session stands: Notes signs in again (silently) and gets a working refresh token.
      const renewed = (await appSignIn(notes, laptop, { scope: 'openid email offline_access' })).tokens;
      assert.ok(renewed?.refresh_token);
      const refreshed = await client.refreshTokenGrant(notes.config, renewed.refresh_token);
      assert.ok(refreshed.access_token);

      const { events } = await gatehouse.directory.audit.list({ action: 'self.app_grant.revoke', actor: fay.id });
      const success = events.find((event) => event.outcome === 'success');
      assert.ok(success);
      assert.deepEqual(success.actor, { type: 'user', id: fay.id, name: 'fay' });
      assert.deepEqual(success.target, { type: 'app', id: notes.id, name: 'Notes' });
      assert.equal(success.details.client_id, notes.config.clientMetadata().client_id);
    });

    test('someone else’s session id is as unknown as a made-up one, and nothing is ended', async () => {
      await person('gus');
      await person('hal');
      const gusBrowser = new NamedBrowser(CHROME_ON_LINUX);
      const gus = await portalSignIn(gatehouse, 'gus', PASSWORD, { browser: gusBrowser });
      const gusWiki = (await appSignIn(wiki, gusBrowser)).tokens;
      assert.ok(gusWiki);
      const gusSession = await currentSession(gus.accessToken);
      const hal = await portalSignIn(gatehouse, 'hal', PASSWORD);

      const theirs = await asToken(hal.accessToken, 'DELETE', `/api/me/sessions/${gusSession.id}`);
      const madeUp = await asToken(hal.accessToken, 'DELETE', '/api/me/sessions/NoSuchSessionUid0000');
      assert.equal(theirs.status, 404, theirs.text);
      assert.equal(madeUp.status, 404, madeUp.text);
      assert.equal(theirs.body.code, 'session.not_found');
      assert.equal(madeUp.body.code, theirs.body.code);
      assert.equal(madeUp.body.message.replace('NoSuchSessionUid0000', 'ID'), theirs.body.message.replace(gusSession.id, 'ID'), 'the same answer');

      assert.equal(await signsInSilently(gusBrowser), true, 'Gus is still signed in');
      assert.equal(await userinfoStatus(gusWiki.access_token), 200);
      assert.equal((await sessionsOf(gus.accessToken)).length, 1);

      // Nor can anyone revoke an app for someone else, or the portal itself.
      const portalApp = await asToken(hal.accessToken, 'DELETE', '/api/me/app-grants/user-portal');
      assert.equal(portalApp.status, 404, portalApp.text);
      const notSignedIn = await asToken(hal.accessToken, 'DELETE', `/api/me/app-grants/${wiki.id}`);
      assert.equal(notSignedIn.status, 404, notSignedIn.text);
      assert.equal(await userinfoStatus(gusWiki.access_token), 200, 'Hal’s refusal touched no grant of Gus');

      const { events } = await gatehouse.directory.audit.list({ action: 'self.session.end', target: gusSession.id });
      assert.deepEqual(
        events.map((event) => [event.actor.name, event.outcome, event.details.code]),
        [['hal', 'failure', 'session.not_found']],
      );
    });

    test('an API key is refused with 403, no token with 401, and bad ids with 400 or 404, never 500', async () => {
      const { key } = await adminKey(gatehouse, 'administrator_with_billing');
      const routes: Array<[string, string]> = [
        ['GET', '/api/me/sessions'],
        ['DELETE', '/api/me/sessions'],
        ['DELETE', '/api/me/sessions/abc'],
        ['GET', '/api/me/app-grants'],
        ['DELETE', `/api/me/app-grants/${wiki.id}`],
      ];
      for (const [method, path] of routes) {
        const withKey = await call(gatehouse, method, path, undefined, { key });
        assert.equal(withKey.status, 403, `${method} ${path}: ${withKey.text}`);
        assert.equal(withKey.body.code, 'auth.self_service_needs_sign_in');
        const asBearer = await call(gatehouse, method, path, undefined, { key, bearer: true });
        assert.equal(asBearer.status, 403, `${method} ${path} (bearer): ${asBearer.text}`);
        const anonymous = await call(gatehouse, method, path);
        assert.equal(anonymous.status, 401, `${method} ${path}: ${anonymous.text}`);
        assert.equal(anonymous.body.code, 'auth.invalid_credentials');
      }

      await person('ivy');
      const ivy = await portalSignIn(gatehouse, 'ivy', PASSWORD);
      const cases: Array<[string, number]> = [
        ['/api/me/sessions/%00', 400],
        ['/api/me/sessions/a%0Ab', 400],
        ['/api/me/sessions/has.dot', 400],
        ['/api/me/sessions/%E2%9C%93', 400],
        [`/api/me/sessions/${'x'.repeat(100)}`, 400],
        ['/api/me/sessions/wellFormedButUnknown', 404],
        ['/api/me/app-grants/%00', 400],
        ['/api/me/app-grants/no-such-app', 404],
        ['/api/me/app-grants/%E2%9C%93', 404],
        [`/api/me/app-grants/${'f'.repeat(24)}`, 404],
      ];
      for (const [path, status] of cases) {
        const response = await asToken(ivy.accessToken, 'DELETE', path);
        assert.equal(response.status, status, `${path}: ${response.text}`);
        assert.match(response.body.code, /^[a-z_]+(\.[a-z_]+)+$/);
      }
      assert.equal((await sessionsOf(ivy.accessToken)).length, 1, 'nothing was ended');
    });

    test('the response shapes are in the OpenAPI document under their own names', async () => {
      const { key } = await adminKey(gatehouse, 'read_only');
      const spec = (await call(gatehouse, 'GET', '/api/openapi.json', undefined, { key })).body;
      const schemas = spec.components.schemas as Record<string, { required?: string[] }>;
      assert.deepEqual(schemas.SelfSession?.required, ['id', 'current', 'signed_in_at', 'last_seen_at', 'ip', 'user_agent', 'browser', 'os', 'device', 'apps']);
      assert.deepEqual(schemas.SelfAppGrant?.required, ['app_id', 'client_id', 'label', 'has_icon', 'first_signed_in_at', 'last_used_at', 'has_refresh_tokens']);
      for (const path of ['/api/me/sessions', '/api/me/sessions/{id}', '/api/me/app-grants', '/api/me/app-grants/{app_id}']) assert.ok(spec.paths[path], path);
    });

    test('activity is written at sign-in, at most once a minute after, and swept once its session is gone', async () => {
      const jon = await person('jon');
      const laptop = new NamedBrowser(CHROME_ON_LINUX);
      const signedIn = await portalSignIn(gatehouse, 'jon', PASSWORD, { browser: laptop });
      const session = await currentSession(signedIn.accessToken);
      const { db } = gatehouse.runtime.storage;
      const row = await db.selectFrom('session_activity').selectAll().where('session_uid', '=', session.id).executeTakeFirst();
      assert.ok(row, 'written when the session was created at sign-in');
      assert.equal(row.account_id, jon.id);
      assert.equal(row.user_agent, CHROME_ON_LINUX);

      // The throttle, on a clock of its own.
      let clock = 1_000_000;
      const sessions = createSessionService({ db, write: gatehouse.runtime.storage.write, provider: () => assert.fail('not needed'), now: () => clock });
      const activity = { sessionUid: session.id, accountId: jon.id, ip: '192.0.2.7', userAgent: SAFARI_ON_IOS };
      const seen = async () => {
        const found = await db.selectFrom('session_activity').select(['ip', 'last_seen_at']).where('session_uid', '=', session.id).executeTakeFirstOrThrow();
        return { ip: found.ip, last_seen_at: Number(found.last_seen_at) };
      };
      await sessions.touch(activity);
      assert.deepEqual(await seen(), { ip: '192.0.2.7', last_seen_at: clock });
      clock += ACTIVITY_INTERVAL_SECONDS - 1;
      await sessions.touch({ ...activity, ip: '192.0.2.8' });
      assert.equal((await seen()).ip, '192.0.2.7', 'not written again within the minute');
      clock += 1;
      await sessions.touch({ ...activity, ip: '192.0.2.8' });
      assert.deepEqual(await seen(), { ip: '192.0.2.8', last_seen_at: clock });

      // A row whose session went without it (a person suspended, a write racing a sign-out) is swept
      // once it is older than any session can live; a younger one is not looked up at every sweep.
      const epochNow = Math.floor(Date.now() / 1000);
      const orphanAt = epochNow - LONGEST_SESSION_SECONDS - 3600;
      await db.insertInto('session_activity').values({ session_uid: 'GoneSession0000000000', account_id: jon.id, ip: null, user_agent: null, created_at: orphanAt, last_seen_at: orphanAt }).execute();
      await db.insertInto('session_activity').values({ session_uid: 'RecentOrphan000000000', account_id: jon.id, ip: null, user_agent: null, created_at: epochNow - 3600, last_seen_at: epochNow - 3600 }).execute();
      await purgeExpired(db);
      const left = await db.selectFrom('session_activity').select('session_uid').where('account_id', '=', jon.id).execute();
      assert.deepEqual(left.map((entry) => entry.session_uid).sort(), [session.id, 'RecentOrphan000000000'].sort());
      await db.deleteFrom('session_activity').where('session_uid', '=', 'RecentOrphan000000000').execute();
    });

    test('a signed-out, ended or expired session leaves no activity row; a live idle one, or one signed in again, keeps its row', async () => {
      await person('kim');
      const { db } = gatehouse.runtime.storage;
      const activityOf = (uid: string) => db.selectFrom('session_activity').select(['session_uid', 'last_seen_at']).where('session_uid', '=', uid).executeTakeFirst();
      const epochNow = () => Math.floor(Date.now() / 1000);

      // RP-initiated logout (oidc-provider destroys the session): its row goes at once, not at some later sweep.
      const laptop = new NamedBrowser(CHROME_ON_LINUX);
      const onLaptop = await portalSignIn(gatehouse, 'kim', PASSWORD, { browser: laptop });
      const laptopSession = await currentSession(onLaptop.accessToken);
      assert.ok(await activityOf(laptopSession.id), 'written at sign-in');
      const signedOut = `${gatehouse.issuer}/signed-out`;
      const logout = client.buildEndSessionUrl(onLaptop.portal, { id_token_hint: onLaptop.idToken, post_logout_redirect_uri: signedOut });
      const step = await laptop.follow(logout.href, signedOut);
      const [form] = parseForms((await step.response?.text()) ?? '').filter((found) => /logout/.test(found.action));
      assert.ok(form, 'the sign-out form');
      const done = await laptop.submit(step.url, form, {}, signedOut, { name: 'logout', value: 'yes' });
      assert.ok(done.url.startsWith(signedOut), done.url);
      assert.equal(await signsInSilently(laptop), false, 'signed out');
      assert.equal(await activityOf(laptopSession.id), undefined, 'the signed-out session’s row went with it');

      // Signing in again in a browser whose session stands gives the session a new cookie, not a new
      // uid: its row stays (oidc-provider destroys the old id's row as it saves the new one).
      const phone = new NamedBrowser(SAFARI_ON_IOS);
      const onPhone = await portalSignIn(gatehouse, 'kim', PASSWORD, { browser: phone });
      const phoneSession = await currentSession(onPhone.accessToken);
      const cookiesBefore = JSON.stringify([...phone.cookies.values()]);
      const again = await startAuthorization(wiki.config, wiki.redirectUri, 'openid email', { prompt: 'login' });
      const outcome = await browse(phone, again.url, wiki.redirectUri, { username: 'kim', password: PASSWORD });
      assert.ok(outcome.callbackUrl?.searchParams.get('code'), JSON.stringify(outcome.page?.url));
      assert.notEqual(JSON.stringify([...phone.cookies.values()]), cookiesBefore, 'a new session cookie');
      assert.deepEqual(
        (await sessionsOf(onPhone.accessToken)).map((session) => session.id),
        [phoneSession.id],
        'the same session',
      );
      assert.ok(await activityOf(phoneSession.id), 'the session signed in again keeps its row');

      // A live session idle for two days keeps its row through the sweep.
      await db.updateTable('session_activity').set({ last_seen_at: epochNow() - 2 * 86_400 }).where('session_uid', '=', phoneSession.id).execute();
      await purgeExpired(db);
      assert.ok(await activityOf(phoneSession.id), 'a live idle session keeps its row');

      // Expired (its payload's time is up): the sweep deletes the row with the payload, though it was
      // written just now.
      await db.updateTable('session_activity').set({ last_seen_at: epochNow() }).where('session_uid', '=', phoneSession.id).execute();
      await db.updateTable('oidc_payloads').set({ expires_at: epochNow() - 1 }).where('model', '=', 'Session').where('uid', '=', phoneSession.id).execute();
      await purgeExpired(db);
      assert.equal(await activityOf(phoneSession.id), undefined, 'the expired session’s row is swept with it');
      assert.equal(await db.selectFrom('oidc_payloads').select('id').where('model', '=', 'Session').where('uid', '=', phoneSession.id).executeTakeFirst(), undefined);
    });

    test('suspending or deleting a person takes the activity of their sessions with the sessions', async () => {
      const { db } = gatehouse.runtime.storage;
      const activityOf = async (accountId: string) => (await db.selectFrom('session_activity').select('session_uid').where('account_id', '=', accountId).execute()).length;
      for (const [username, end] of [
        ['sue', (id: string) => gatehouse.directory.users.suspend(id)],
        ['dee', (id: string) => gatehouse.directory.users.delete(id)],
      ] as const) {
        const someone = await person(username);
        await portalSignIn(gatehouse, username, PASSWORD, { browser: new NamedBrowser(CHROME_ON_LINUX) });
        assert.equal(await activityOf(someone.id), 1, `${username}'s sign-in left its activity row`);
        await end(someone.id);
        assert.equal(await activityOf(someone.id), 0, `${username}'s activity went with the sessions`);
      }
    });

    test('the sweep over live sessions reads none of their Session rows', async () => {
      const lee = await person('lee');
      const { db } = gatehouse.runtime.storage;
      const now = Math.floor(Date.now() / 1000);
      const count = 300;
      const uids = Array.from({ length: count }, (_, index) => `IdleSession${String(index).padStart(10, '0')}`);
      // Live sessions, idle for a day: Session payloads (as oidc-provider's would be, minus their content) and their activity.
      await db
        .insertInto('oidc_payloads')
        .values(uids.map((uid) => ({ model: 'Session', id: `idle-${uid}`, payload: '{}', grant_id: null, client_id: null, account_id: lee.id, uid, user_code: null, expires_at: now + 86_400, consumed_at: null })))
        .execute();
      await db
        .insertInto('session_activity')
        .values(uids.map((uid) => ({ session_uid: uid, account_id: lee.id, ip: null, user_agent: null, created_at: now - 86_400, last_seen_at: now - 86_400 })))
        .execute();

      if (kind === 'postgres') {
        // Rows PostgreSQL examined in oidc_payloads during the sweep, as its connection counts them
        // (pg_stat_xact_user_tables: not yet reported, so taken as a difference within one
        // transaction), after ANALYZE as autovacuum would have run it.
        await sql`analyze oidc_payloads`.execute(db);
        await sql`analyze session_activity`.execute(db);
        const examined = await db.transaction().execute(async (trx) => {
          const rowsRead = async () => {
            const { rows } = await sql<{ read: string }>`select seq_tup_read + idx_tup_fetch as read from pg_stat_xact_user_tables where relname = 'oidc_payloads'`.execute(trx);
            return Number(rows[0]?.read ?? 0);
          };
          const before = await rowsRead();
          await purgeExpired(trx);
          return (await rowsRead()) - before;
        });
        assert.ok(examined < count / 10, `the sweep examined ${examined} rows of oidc_payloads`);
      } else {
        // SQLite counts no rows for us: every statement the sweep runs is explained, and each reads
        // oidc_payloads and session_activity only through a time bound or a single key, never whole
        // nor by model (all Session rows).
        const statements: CompiledQuery[] = [];
        const capturing = db.withPlugin({
          transformQuery: (args) => {
            statements.push(db.getExecutor().compileQuery(args.node, args.queryId));
            return args.node;
          },
          transformResult: async (args) => args.result,
        });
        await purgeExpired(capturing);
        assert.ok(statements.some((statement) => /session_activity/.test(statement.sql)), 'the sweep deletes activity');
        for (const statement of statements) {
          const plan = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${statement.sql}`, [...statement.parameters]));
          for (const { detail } of plan.rows.filter((row) => /\b(oidc_payloads|session_activity)\b/.test(row.detail))) {
            assert.match(detail, /^SEARCH \w+ USING (COVERING )?INDEX \w+ \((expires_at<\?|last_seen_at<\?|session_uid=\?|uid=\?)\)$/, `${statement.sql}: ${detail}`);
          }
        }
      }
      // Nor does the sweep's outcome depend on them: with their Session rows gone (which it would
      // have noticed, had it looked), the idle sessions' rows stay until the safety net's age.
      await db.deleteFrom('oidc_payloads').where('model', '=', 'Session').where('uid', 'in', uids).execute();
      await purgeExpired(db);
      for (const uid of uids) assert.ok(await db.selectFrom('session_activity').select('session_uid').where('session_uid', '=', uid).executeTakeFirst(), uid);
      await db.deleteFrom('session_activity').where('session_uid', 'in', uids).execute();
    });

    test('user agents are named for people', () => {
      assert.deepEqual(describeUserAgent(CHROME_ON_LINUX), { browser: 'Chrome', os: 'Linux', device: 'Chrome on Linux' });
      assert.deepEqual(describeUserAgent(SAFARI_ON_IOS), { browser: 'Safari', os: 'iOS', device: 'Safari on iOS' });
      assert.deepEqual(describeUserAgent('curl/8.0'), { browser: null, os: null, device: 'Unknown browser' });
      assert.deepEqual(describeUserAgent(null), { browser: null, os: null, device: 'Unknown browser' });
      assert.deepEqual(describeUserAgent(''), { browser: null, os: null, device: 'Unknown browser' });
    });
  });
}
