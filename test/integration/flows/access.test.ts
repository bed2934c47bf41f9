/**
 * Access is decided again on every token use, not only at sign-in: suspending or locking the user,
 * taking them out of the bound group, unbinding the group or deactivating the app makes the tokens
 * already issued stop working at once — userinfo answers 401 invalid_token, introspection says
 * active:false, refresh fails — and undoing the change lets the person sign in again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, client, discover, signIn, startAuthorization } from '../../helpers/rp.ts';

const REDIRECT_URI = 'https://ledger.example.test/oidc/callback';
const SCOPE = 'openid offline_access email profile';
const LABEL = 'Ledger';
const GROUP = 'Accounting';
const USER = { username: 'ada', email: 'ada@example.com', firstname: 'Ada', lastname: 'Byron', password: 'access-password-1' };

interface Change {
  name: string;
  apply(gatehouse: TestGatehouse): Promise<void>;
  restore(gatehouse: TestGatehouse): Promise<void>;
  /** What a fresh sign-in meets while the change is in force. */
  freshSignIn: 'refused at the form' | 'no access page' | 'app unknown';
}

const CHANGES: Change[] = [
  {
    name: 'suspending the user',
    apply: (g) => g.directory.users.suspend(USER.username).then(() => {}),
    restore: (g) => g.directory.users.activate(USER.username).then(() => {}),
    freshSignIn: 'refused at the form',
  },
  {
    // The directory locks an account only after repeated failed sign-ins: set the flag directly.
    name: 'locking the user',
    apply: (g) => g.runtime.storage.db.updateTable('users').set({ account_locked: 1 }).where('username_key', '=', USER.username).execute().then(() => {}),
    restore: (g) => g.directory.users.unlock(USER.username).then(() => {}),
    freshSignIn: 'refused at the form',
  },
  {
    name: 'removing the user from the bound group',
    apply: (g) => g.directory.groups.removeMember(GROUP, USER.username),
    restore: (g) => g.directory.groups.addMember(GROUP, USER.username),
    freshSignIn: 'no access page',
  },
  {
    name: 'unbinding the group from the app',
    apply: (g) => g.directory.apps.unbind(LABEL, GROUP),
    restore: (g) => g.directory.apps.bind(LABEL, GROUP),
    freshSignIn: 'no access page',
  },
  {
    name: 'deactivating the app',
    apply: (g) => g.directory.apps.deactivate(LABEL).then(() => {}),
    restore: (g) => g.directory.apps.activate(LABEL).then(() => {}),
    freshSignIn: 'app unknown',
  },
];

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Access re-checked on every token use (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let config: client.Configuration;

    const userinfo = async (accessToken: string) => {
      const response = await fetch(config.serverMetadata().userinfo_endpoint as string, { headers: { authorization: `Bearer ${accessToken}` } });
      const body = await response.text();
      return { status: response.status, challenge: response.headers.get('www-authenticate') ?? '', body };
    };

    const introspect = async (token: string) => {
      const result = await client.tokenIntrospection(config, token);
      return result.active;
    };

    const refreshError = async (refreshToken: string): Promise<string> => {
      try {
        await client.refreshTokenGrant(config, refreshToken);
      } catch (error) {
        const e = error as { error?: string; cause?: Array<{ parameters?: { error?: string } }> };
        return e.error ?? e.cause?.[0]?.parameters?.error ?? String(error);
      }
      assert.fail('the refresh token still works');
    };

    const signInFresh = () => signIn(config, { redirectUri: REDIRECT_URI, scope: SCOPE, username: USER.username, password: USER.password });

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, groups, apps } = gatehouse.directory;
      await users.create(USER);
      await groups.create(GROUP);
      await groups.addMember(GROUP, USER.username);
      const { app, clientSecret } = await apps.create({
        label: LABEL,
        redirect_uris: [REDIRECT_URI],
        auth_method: 'client_secret_basic',
        refresh_token: true,
        scopes: ['email', 'profile'],
      });
      await apps.bind(app.id, GROUP);
      config = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
    });
    after(() => gatehouse?.close());

    for (const change of CHANGES) {
      test(`${change.name} stops the tokens already issued; restoring lets the person sign in again`, async () => {
        const { tokens } = await signInFresh();
        assert.ok(tokens.refresh_token);
        assert.equal((await userinfo(tokens.access_token)).status, 200);
        assert.equal(await introspect(tokens.access_token), true);

        await change.apply(gatehouse);
        try {
          const info = await userinfo(tokens.access_token);
          assert.equal(info.status, 401, `userinfo: ${info.status} ${info.body}`);
          assert.match(info.challenge, /error="invalid_token"/);
          if (change.freshSignIn === 'app unknown') {
            // The app itself can no longer authenticate: nothing about its tokens is revealed.
            await assert.rejects(introspect(tokens.access_token), (error: { error?: string; status?: number; cause?: Array<{ parameters?: { error?: string } }> }) =>
              (error.error ?? error.cause?.[0]?.parameters?.error) === 'invalid_client');
            assert.equal(await refreshError(tokens.refresh_token), 'invalid_client');
          } else {
            assert.equal(await introspect(tokens.access_token), false, 'the access token is inactive');
            assert.equal(await introspect(tokens.refresh_token), false, 'the refresh token is inactive');
            assert.equal(await refreshError(tokens.refresh_token), 'invalid_grant');
          }

          // A new sign-in is refused too, each the way the person can understand.
          const start = await startAuthorization(config, REDIRECT_URI, SCOPE);
          const outcome = await browse(new Browser(), start.url, REDIRECT_URI, { username: USER.username, password: USER.password });
          assert.equal(outcome.callbackUrl?.searchParams.get('code') ?? null, null, 'no code while access is withdrawn');
          assert.ok(outcome.page, `expected a page, got ${outcome.callbackUrl}`);
          if (change.freshSignIn === 'refused at the form') {
            assert.match(outcome.page.html, /name="password"/);
            assert.match(outcome.page.html, /class="error"/);
          } else if (change.freshSignIn === 'no access page') {
            assert.equal(outcome.page.status, 403);
            assert.match(outcome.page.html, /don't have access/);
          } else {
            assert.equal(outcome.page.status, 400);
            assert.doesNotMatch(outcome.page.html, /name="password"/);
          }
        } finally {
          await change.restore(gatehouse);
        }

        const again = await signInFresh();
        const claims = again.tokens.claims();
        assert.equal(claims?.email, USER.email);
        assert.equal((await userinfo(again.tokens.access_token)).status, 200);
        assert.equal(await introspect(again.tokens.access_token), true);
        const refreshed = await client.refreshTokenGrant(config, again.tokens.refresh_token as string);
        assert.ok(refreshed.access_token);
      });
    }

    // A suspension is usually a response to a compromise: a refresh token stolen before it must not
    // work again after the reactivation. (Group and binding changes only withhold access while they last.)
    test('suspension revokes for good: reactivating does not revive tokens issued before', async () => {
      const { tokens } = await signInFresh();
      await gatehouse.directory.users.suspend(USER.username);
      await gatehouse.directory.users.activate(USER.username);
      assert.equal((await userinfo(tokens.access_token)).status, 401, 'the old access token stays dead');
      assert.equal(await refreshError(tokens.refresh_token as string), 'invalid_grant', 'the old refresh token stays dead');
    });
  });
}
