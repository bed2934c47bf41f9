/**
 * SingleStore Helios, as its JumpCloud guide sets it up: a custom OIDC app with Authorization Code
 * and Refresh Token on, client authentication "Public (None PKCE)", the Email and Profile standard
 * scopes, a login initiation URI, every user assigned; Helios asks for
 * `openid offline_access email profile` through the discovery endpoint.
 *
 * Driven with oauth4webapi directly (no openid-client), to cover a second relying-party library.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse } from '../../helpers/rp.ts';

const REDIRECT_URI = 'https://portal.singlestore.com/auth/oidc/callback';
const LOGIN_URL = 'https://portal.singlestore.com/sso/login?connection=jumpcloud-oidc';
const SCOPE = 'openid offline_access email profile';
const USER = { username: 'sam', email: 'sam@example.com', firstname: 'Sam', lastname: 'Okafor', password: 'helios-password-1' };

// Gatehouse listens on plain http on loopback in tests.
const insecure = { [oauth.allowInsecureRequests]: true } as const;

interface Rp {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  auth: oauth.ClientAuth;
}

async function discoverRp(issuer: string, clientId: string): Promise<Rp> {
  const issuerUrl = new URL(issuer);
  const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, insecure));
  return { as, client: { client_id: clientId }, auth: oauth.None() };
}

/** The authorization request Helios sends: PKCE S256, state and nonce. */
async function authorizationUrl(rp: Rp, scope: string, options: { pkce?: boolean } = {}) {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(rp.as.authorization_endpoint as string);
  url.searchParams.set('client_id', rp.client.client_id);
  url.searchParams.set('redirect_uri', REDIRECT_URI);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', scope);
  url.searchParams.set('state', state);
  url.searchParams.set('nonce', nonce);
  if (options.pkce !== false) {
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return { url, codeVerifier, state, nonce };
}

/** Full sign-in through Gatehouse's HTML form, then the code exchange. */
async function signIn(rp: Rp, scope = SCOPE, browser = new Browser()) {
  const start = await authorizationUrl(rp, scope);
  const outcome = await browse(browser, start.url, REDIRECT_URI, { username: USER.username, password: USER.password });
  assert.ok(outcome.callbackUrl, `sign-in stopped at a page (${outcome.page?.status}): ${outcome.page?.html.slice(0, 400)}`);
  const params = oauth.validateAuthResponse(rp.as, rp.client, outcome.callbackUrl, start.state);
  const response = await oauth.authorizationCodeGrantRequest(rp.as, rp.client, rp.auth, params, REDIRECT_URI, start.codeVerifier, insecure);
  const tokens = await oauth.processAuthorizationCodeResponse(rp.as, rp.client, response, { expectedNonce: start.nonce, requireIdToken: true });
  return { tokens, browser };
}

async function refresh(rp: Rp, refreshToken: string) {
  const response = await oauth.refreshTokenGrantRequest(rp.as, rp.client, rp.auth, refreshToken, insecure);
  return oauth.processRefreshTokenResponse(rp.as, rp.client, response);
}

async function userinfo(rp: Rp, accessToken: string, sub: string) {
  const response = await oauth.userInfoRequest(rp.as, rp.client, accessToken, insecure);
  return oauth.processUserInfoResponse(rp.as, rp.client, sub, response);
}

/** The raw userinfo status, to see that a token stopped working (401) without a library in between. */
async function userinfoStatus(rp: Rp, accessToken: string): Promise<number> {
  const response = await fetch(rp.as.userinfo_endpoint as string, { headers: { authorization: `Bearer ${accessToken}` } });
  await response.body?.cancel();
  return response.status;
}

async function refreshError(rp: Rp, refreshToken: string): Promise<string> {
  try {
    await refresh(rp, refreshToken);
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) return error.error;
    throw error;
  }
  assert.fail('the refresh token was accepted');
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`SingleStore Helios (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let rp: Rp;
    let appClientId: string;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, apps } = gatehouse.directory;
      await users.create(USER);
      const { app, clientSecret } = await apps.create({
        label: 'SingleStore OIDC',
        redirect_uris: [REDIRECT_URI],
        login_url: LOGIN_URL,
        auth_method: 'none',
        refresh_token: true,
        scopes: ['email', 'profile'],
      });
      assert.equal(clientSecret, null, 'a public client gets no secret');
      assert.equal(app.login_url, LOGIN_URL);
      // "This can be all the users because SSO is an authentication, not authorization".
      await apps.bind(app.id, 'All Users');
      appClientId = app.client_id;
      rp = await discoverRp(gatehouse.issuer, app.client_id);
    });
    after(() => gatehouse?.close());

    test('discovery advertises what Helios needs', () => {
      assert.equal(new URL(rp.as.issuer).href, new URL(gatehouse.issuer).href);
      assert.ok(rp.as.code_challenge_methods_supported?.includes('S256'));
      assert.ok(rp.as.grant_types_supported?.includes('refresh_token'));
      assert.ok(rp.as.scopes_supported?.includes('offline_access'));
      assert.ok(rp.as.token_endpoint_auth_methods_supported?.includes('none'));
    });

    test('sign-in gives an ID token with the profile and email claims, and a refresh token', async () => {
      const { tokens } = await signIn(rp);
      const claims = oauth.getValidatedIdTokenClaims(tokens);
      assert.ok(claims);
      assert.match(claims.sub, /^[0-9a-f]{24}$/);
      assert.equal(claims.iss, rp.as.issuer);
      assert.deepEqual([claims.aud].flat(), [appClientId]);
      assert.equal(claims.email, USER.email);
      assert.equal(claims.email_verified, true, 'email_verified is the JSON boolean true, not the string "true"');
      assert.equal(claims.given_name, USER.firstname);
      assert.equal(claims.family_name, USER.lastname);
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(typeof tokens.refresh_token, 'string');
      assert.ok(tokens.refresh_token);
      assert.ok(tokens.scope?.split(' ').includes('offline_access'), `granted scope: ${tokens.scope}`);

      const info = await userinfo(rp, tokens.access_token, claims.sub);
      assert.equal(info.email, USER.email);
      assert.equal(info.email_verified, true);
    });

    test('a public client must use PKCE', async () => {
      const start = await authorizationUrl(rp, SCOPE, { pkce: false });
      const outcome = await browse(new Browser(), start.url, REDIRECT_URI);
      assert.ok(outcome.callbackUrl, 'the error goes back to the registered redirect URI');
      assert.equal(outcome.callbackUrl.searchParams.get('error'), 'invalid_request');
      assert.equal(outcome.callbackUrl.searchParams.get('state'), start.state);
      assert.equal(outcome.callbackUrl.searchParams.get('code'), null);
    });

    test('the refresh token refreshes and rotates; reusing the old one revokes the whole grant', async () => {
      const { tokens } = await signIn(rp);
      const sub = oauth.getValidatedIdTokenClaims(tokens)?.sub as string;
      const first = tokens.refresh_token as string;

      const refreshed = await refresh(rp, first);
      assert.ok(refreshed.access_token);
      assert.notEqual(refreshed.access_token, tokens.access_token);
      assert.ok(refreshed.refresh_token, 'rotation issues a new refresh token');
      assert.notEqual(refreshed.refresh_token, first, 'the new refresh token differs from the old one');
      const refreshedClaims = oauth.getValidatedIdTokenClaims(refreshed);
      if (refreshedClaims) assert.equal(refreshedClaims.sub, sub);
      assert.equal((await userinfo(rp, refreshed.access_token, sub)).sub, sub);

      // The old refresh token was used once already: replaying it is treated as theft.
      assert.equal(await refreshError(rp, first), 'invalid_grant');
      // ...and everything issued under that grant dies with it.
      assert.equal(await refreshError(rp, refreshed.refresh_token as string), 'invalid_grant', 'the newest refresh token is revoked too');
      assert.equal(await userinfoStatus(rp, refreshed.access_token), 401, 'the newest access token is revoked');
      assert.equal(await userinfoStatus(rp, tokens.access_token), 401, 'the first access token is revoked');
    });

    test('a second, independent sign-in is unaffected by another grant being revoked', async () => {
      const { tokens } = await signIn(rp);
      const again = await refresh(rp, tokens.refresh_token as string);
      assert.ok(again.refresh_token);
      assert.equal(await userinfoStatus(rp, again.access_token), 200);
    });

    test('with the refresh grant off, offline_access is not granted and no refresh token is issued', async () => {
      const { app } = await gatehouse.directory.apps.create({
        label: 'SingleStore OIDC (no refresh)',
        redirect_uris: [REDIRECT_URI],
        login_url: LOGIN_URL,
        auth_method: 'none',
        refresh_token: false,
        scopes: ['email', 'profile'],
      });
      await gatehouse.directory.apps.bind(app.id, 'All Users');
      const noRefresh = await discoverRp(gatehouse.issuer, app.client_id);
      const { tokens } = await signIn(noRefresh);
      assert.ok(tokens.access_token);
      assert.equal(tokens.refresh_token, undefined);
      assert.ok(!tokens.scope?.split(' ').includes('offline_access'), `granted scope: ${tokens.scope}`);
      const claims = oauth.getValidatedIdTokenClaims(tokens);
      assert.equal(claims?.email, USER.email);
    });
  });
}
