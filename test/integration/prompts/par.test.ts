/**
 * Pushed authorization requests (RFC 9126): the app posts its request first and sends the browser
 * with only a request_uri, so nothing of it travels through the browser's address bar.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { Browser } from '../../helpers/browser.ts';
import { browse, client, discover } from '../../helpers/rp.ts';

const REDIRECT_URI = 'https://app.example.test/callback';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`pushed authorization requests (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let config: client.Configuration;

    before(async () => {
      gatehouse = await startGatehouse(kind);
      await gatehouse.directory.users.create({ username: 'pat', email: 'pat@example.com', password: 'pushed-request-passphrase-1' });
      const { app, clientSecret } = await gatehouse.directory.apps.create({ label: 'PAR app', redirect_uris: [REDIRECT_URI], scopes: ['email'] });
      await gatehouse.directory.apps.bind(app.id, 'All Users');
      config = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
    });
    after(() => gatehouse?.close());

    test('discovery names /oauth2/par and a pushed request signs the person in', async () => {
      assert.equal(config.serverMetadata().pushed_authorization_request_endpoint, `${gatehouse.issuer}/oauth2/par`);
      const codeVerifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const url = await client.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid email',
        state,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
      });
      assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
      const outcome = await browse(new Browser(), url, REDIRECT_URI, { username: 'pat', password: 'pushed-request-passphrase-1' });
      assert.ok(outcome.callbackUrl, outcome.page?.html ?? "no callback");
      const tokens = await client.authorizationCodeGrant(config, outcome.callbackUrl, { pkceCodeVerifier: codeVerifier, expectedState: state });
      assert.equal(tokens.claims()?.email, 'pat@example.com');
    });
  });
}
