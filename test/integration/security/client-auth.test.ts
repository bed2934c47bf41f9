/**
 * Client authentication at the token endpoint (RFC 6749 §2.3.1, §5.2): a wrong, missing or borrowed
 * secret, and a secret from a public app, all give 401 invalid_client, with a Basic challenge when
 * the client tried Basic; none of it burns the code; a regenerated secret retires the old one. A
 * secret may be sent with Basic or in the body whatever the app registered (§2.3.1).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import type { TestGatehouse } from '../../helpers/gatehouse.ts';
import {
  Browser,
  REDIRECT_URI,
  type Response2,
  type TestApp,
  assertOAuthError,
  basic,
  createApp,
  exchangeOk,
  obtainCode,
  post,
  token,
  shutdown,
  startWithStaff,
} from './support.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`client authentication (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let basicApp: TestApp;
    let postApp: TestApp;
    let publicApp: TestApp;
    let browser: Browser;

    before(async () => {
      gatehouse = await startWithStaff(kind, 'carl');
      basicApp = await createApp(gatehouse, { label: 'Basic app', group: 'staff' });
      postApp = await createApp(gatehouse, { label: 'Post app', group: 'staff', authMethod: 'client_secret_post' });
      publicApp = await createApp(gatehouse, { label: 'Public app', group: 'staff', authMethod: 'none' });
      browser = new Browser();
      await obtainCode(basicApp, 'carl', { browser });
    });
    after(() => shutdown(gatehouse));

    const secrets = () => [basicApp.credentials.clientSecret, postApp.credentials.clientSecret];

    function assertInvalidClient(response: Response2, triedBasic: boolean, code?: string) {
      assertOAuthError(response, 401, 'invalid_client', [...secrets(), code]);
      const challenge = response.headers.get('www-authenticate');
      // RFC 6749 §5.2: a client that tried the Authorization header gets a 401 with a matching challenge.
      if (triedBasic) assert.match(challenge ?? '', /^Basic realm=".*", error="invalid_client"/);
    }

    test('wrong, missing and borrowed secrets are refused with 401 invalid_client, and the code survives', async () => {
      const issued = await obtainCode(basicApp, 'carl', { browser });
      const grant = { grant_type: 'authorization_code', code: issued.code, redirect_uri: REDIRECT_URI, code_verifier: issued.start.codeVerifier };
      const basicId = basicApp.credentials.clientId;
      const attempts: Array<[string, Record<string, string>, string | undefined]> = [
        ['a wrong secret (Basic)', {}, basic(basicId, 'not-the-secret')],
        ['the secret with one character changed', {}, basic(basicId, `${basicApp.credentials.clientSecret?.slice(0, -1)}x`)],
        ['the secret with a suffix', {}, basic(basicId, `${basicApp.credentials.clientSecret}x`)],
        ['the secret of another app (Basic)', {}, basic(basicId, postApp.credentials.clientSecret ?? '')],
        ['the stored hash instead of the secret', {}, basic(basicId, (await gatehouse.directory.apps.rowByClientId(basicId))?.client_secret_hash ?? 'x')],
        ['no secret at all (client_id only)', { client_id: basicId }, undefined],
        ['an unknown client_id (Basic)', {}, basic('00000000-0000-4000-8000-000000000000', basicApp.credentials.clientSecret ?? '')],
      ];
      for (const [name, extra, authorization] of attempts) {
        const response = await token(gatehouse, { ...grant, ...extra }, authorization ? { authorization } : undefined);
        try {
          assertInvalidClient(response, authorization !== undefined, issued.code);
        } catch (error) {
          throw new Error(`${name}: ${(error as Error).message}`, { cause: error });
        }
      }
      // None of those consumed the code: the real client still redeems it.
      await exchangeOk(gatehouse, basicApp, issued);
    });

    test('a client_secret_post app refuses a wrong, missing or borrowed secret', async () => {
      const postId = postApp.credentials.clientId;
      const grant = { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: REDIRECT_URI };
      for (const extra of [
        { client_id: postId, client_secret: 'not-the-secret' },
        { client_id: postId, client_secret: basicApp.credentials.clientSecret ?? '' },
        { client_id: postId },
        { client_id: postId, client_secret: '' },
      ]) {
        assertInvalidClient(await token(gatehouse, { ...grant, ...extra }), false);
      }
    });

    // RFC 6749 §2.3.1: a client issued a secret may present it either way, whatever it registered
    // (the whole matrix, at every endpoint, is in client-auth-methods.test.ts). Accepted here means the
    // request gets past client authentication and fails at the made-up code instead.
    test('a client_secret_post app may send its own secret with HTTP Basic', async () => {
      const response = await token(
        gatehouse,
        { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: REDIRECT_URI },
        { authorization: basic(postApp.credentials.clientId, postApp.credentials.clientSecret ?? '') },
      );
      assertOAuthError(response, 400, 'invalid_grant', secrets());
    });

    test('a client_secret_basic app may send its own secret in the body', async () => {
      const response = await token(gatehouse, {
        grant_type: 'authorization_code',
        code: 'not-a-code',
        redirect_uri: REDIRECT_URI,
        client_id: basicApp.credentials.clientId,
        client_secret: basicApp.credentials.clientSecret ?? '',
      });
      assertOAuthError(response, 400, 'invalid_grant', secrets());
    });

    test('a public app cannot be authenticated with a secret, and a confidential one not without', async () => {
      const grant = { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: REDIRECT_URI };
      assertInvalidClient(await token(gatehouse, { ...grant, client_id: publicApp.credentials.clientId, client_secret: 'anything' }), false);
      assertInvalidClient(await token(gatehouse, grant, { authorization: basic(publicApp.credentials.clientId, 'anything') }), true);
      // A confidential app posing as public (client_id only, as a SPA would send it).
      assertInvalidClient(await token(gatehouse, { ...grant, client_id: postApp.credentials.clientId }), false);
    });

    test('a regenerated secret makes the old one fail', async () => {
      const rotating = await createApp(gatehouse, { label: 'Rotating', group: 'staff' });
      const oldSecret = rotating.credentials.clientSecret ?? '';
      await exchangeOk(gatehouse, rotating, await obtainCode(rotating, 'carl', { browser }));

      const { clientSecret: newSecret } = await gatehouse.directory.apps.regenerateSecret(rotating.id);
      assert.notEqual(newSecret, oldSecret);
      const issued = await obtainCode(rotating, 'carl', { browser });
      const grant = { grant_type: 'authorization_code', code: issued.code, redirect_uri: REDIRECT_URI, code_verifier: issued.start.codeVerifier };
      assertInvalidClient(await token(gatehouse, grant, { authorization: basic(rotating.credentials.clientId, oldSecret) }), true);
      const ok = await token(gatehouse, grant, { authorization: basic(rotating.credentials.clientId, newSecret) });
      assert.equal(ok.status, 200, ok.text);
      // The old secret stays dead at the other client-authenticated endpoints too.
      const json = ok.json as { access_token: string };
      for (const path of ['/oauth2/introspect', '/oauth2/revoke']) {
        assertInvalidClient(await post(gatehouse, path, { token: json.access_token }, { authorization: basic(rotating.credentials.clientId, oldSecret) }), true);
      }
    });

    test('a deactivated app cannot authenticate', async () => {
      const paused = await createApp(gatehouse, { label: 'Paused', group: 'staff' });
      await gatehouse.directory.apps.deactivate(paused.id);
      try {
        const response = await token(gatehouse, { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: REDIRECT_URI }, paused.credentials);
        assertInvalidClient(response, true);
      } finally {
        await gatehouse.directory.apps.activate(paused.id);
      }
    });
  });
}
