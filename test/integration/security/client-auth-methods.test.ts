/**
 * RFC 6749 §2.3.1: a client issued a secret may present it with HTTP Basic (which the server MUST
 * support) or in the request body, whichever way it was registered, at every client-authenticated
 * endpoint: token, introspection, revocation. Requests are shaped as Authlib sends them (Basic with
 * the form-urlencoded client_id and secret, then base64). Still refused: a wrong secret, a secret
 * from a public client, no secret from a confidential client, and both ways at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import {
  Browser,
  type ClientCredentials,
  REDIRECT_URI,
  type TestApp,
  assertOAuthError,
  createApp,
  exchangeOk,
  obtainCode,
  post,
  shutdown,
  startWithStaff,
} from './support.ts';

type Way = 'basic' | 'post';

/** application/x-www-form-urlencoded, as RFC 6749 §2.3.1 (and Authlib) encode client_id and secret before base64. */
const formEncode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
const authlibBasic = (clientId: string, secret: string) => `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(secret)}`).toString('base64')}`;

/** A form-encoded POST that presents the credentials one way, whatever the client was registered with. */
function send(gatehouse: TestGatehouse, path: string, params: Record<string, string>, credentials: ClientCredentials, way: Way, secret = credentials.clientSecret ?? '') {
  if (way === 'basic') return post(gatehouse, path, params, { authorization: authlibBasic(credentials.clientId, secret) });
  return post(gatehouse, path, { ...params, client_id: credentials.clientId, client_secret: secret });
}

const ENDPOINTS = { token: '/oauth2/token', introspection: '/oauth2/introspect', revocation: '/oauth2/revoke' } as const;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`client_secret_basic and client_secret_post are both accepted (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let apps: Record<'client_secret_basic' | 'client_secret_post', TestApp>;
    let publicApp: TestApp;
    const browser = new Browser();

    before(async () => {
      gatehouse = await startWithStaff(kind, 'rosa');
      apps = {
        client_secret_basic: await createApp(gatehouse, { label: 'Basic-registered', group: 'staff' }),
        client_secret_post: await createApp(gatehouse, { label: 'Post-registered', group: 'staff', authMethod: 'client_secret_post' }),
      };
      publicApp = await createApp(gatehouse, { label: 'Public', group: 'staff', authMethod: 'none' });
    });
    after(() => shutdown(gatehouse));

    async function freshTokens(app: TestApp) {
      return exchangeOk(gatehouse, app, await obtainCode(app, 'rosa', { browser }));
    }

    for (const registered of ['client_secret_basic', 'client_secret_post'] as const) {
      for (const way of ['basic', 'post'] as const) {
        test(`registered ${registered}, authenticating with ${way === 'basic' ? 'HTTP Basic' : 'the request body'}: token, introspection and revocation`, async () => {
          const app = apps[registered];
          const issued = await obtainCode(app, 'rosa', { browser });
          const exchanged = await send(gatehouse, ENDPOINTS.token, { grant_type: 'authorization_code', code: issued.code, redirect_uri: REDIRECT_URI, code_verifier: issued.start.codeVerifier }, app.credentials, way);
          assert.equal(exchanged.status, 200, exchanged.text);
          const accessToken = String(exchanged.json?.access_token);

          const introspected = await send(gatehouse, ENDPOINTS.introspection, { token: accessToken, token_type_hint: 'access_token' }, app.credentials, way);
          assert.equal(introspected.status, 200, introspected.text);
          assert.equal(introspected.json?.active, true);

          const revoked = await send(gatehouse, ENDPOINTS.revocation, { token: accessToken, token_type_hint: 'access_token' }, app.credentials, way);
          assert.equal(revoked.status, 200, revoked.text);
          const after = await send(gatehouse, ENDPOINTS.introspection, { token: accessToken }, app.credentials, way);
          assert.equal(after.json?.active, false, 'the revocation took effect');
        });
      }
    }

    test('a wrong secret is refused either way, at every endpoint, for either registration', async () => {
      for (const app of Object.values(apps)) {
        const tokens = await freshTokens(app);
        for (const way of ['basic', 'post'] as const) {
          const attempts = {
            token: await send(gatehouse, ENDPOINTS.token, { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: REDIRECT_URI }, app.credentials, way, 'not-the-secret'),
            introspection: await send(gatehouse, ENDPOINTS.introspection, { token: tokens.access_token }, app.credentials, way, 'not-the-secret'),
            revocation: await send(gatehouse, ENDPOINTS.revocation, { token: tokens.access_token }, app.credentials, way, 'not-the-secret'),
            "another app's secret": await send(gatehouse, ENDPOINTS.introspection, { token: tokens.access_token }, app.credentials, way, (app === apps.client_secret_basic ? apps.client_secret_post : apps.client_secret_basic).credentials.clientSecret ?? ''),
          };
          for (const [name, response] of Object.entries(attempts)) {
            try {
              assertOAuthError(response, 401, 'invalid_client', [app.credentials.clientSecret, tokens.access_token]);
            } catch (error) {
              throw new Error(`${app.credentials.authMethod} via ${way}, ${name}: ${(error as Error).message}`, { cause: error });
            }
          }
        }
        // The token was not revoked by any of those.
        const check = await send(gatehouse, ENDPOINTS.introspection, { token: tokens.access_token }, app.credentials, 'basic');
        assert.equal(check.json?.active, true);
      }
    });

    test('a public client presenting a secret is refused, either way', async () => {
      for (const way of ['basic', 'post'] as const) {
        for (const path of Object.values(ENDPOINTS)) {
          const response = await send(gatehouse, path, { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: REDIRECT_URI, token: 'x' }, publicApp.credentials, way, 'made-up-secret');
          assertOAuthError(response, 401, 'invalid_client');
        }
      }
    });

    test('a confidential client presenting no secret is refused at every endpoint', async () => {
      for (const app of Object.values(apps)) {
        const tokens = await freshTokens(app);
        for (const path of Object.values(ENDPOINTS)) {
          const response = await post(gatehouse, path, { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: REDIRECT_URI, token: tokens.access_token, client_id: app.credentials.clientId });
          assertOAuthError(response, 401, 'invalid_client', [tokens.access_token]);
        }
        const check = await send(gatehouse, ENDPOINTS.introspection, { token: tokens.access_token }, app.credentials, 'post');
        assert.equal(check.json?.active, true);
      }
    });

    test('both ways at once are refused', async () => {
      for (const app of Object.values(apps)) {
        const secret = app.credentials.clientSecret ?? '';
        const response = await post(
          gatehouse,
          ENDPOINTS.introspection,
          { token: 'x', client_id: app.credentials.clientId, client_secret: secret },
          { authorization: authlibBasic(app.credentials.clientId, secret) },
        );
        assertOAuthError(response, 400, 'invalid_request', [secret]);
      }
    });

    test('discovery still advertises exactly the methods an app can be registered with', async () => {
      const discovery = (await (await fetch(`${gatehouse.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      const methods = new Set(['client_secret_basic', 'client_secret_post', 'none']);
      assert.deepEqual(new Set(discovery.token_endpoint_auth_methods_supported as string[]), methods);
      // RFC 8414 §2: the introspection and revocation lists are optional; if published, the same set.
      for (const name of ['introspection_endpoint_auth_methods_supported', 'revocation_endpoint_auth_methods_supported']) {
        if (discovery[name] !== undefined) assert.deepEqual(new Set(discovery[name] as string[]), methods, name);
      }
    });
  });
}
