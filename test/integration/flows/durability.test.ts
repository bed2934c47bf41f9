/**
 * Everything the protocol hands out lives in the database: a restart loses no session, code or
 * token. Signing keys rotate while the server runs: the next key is published before it signs, the
 * running server picks the rotation up on its own, and the retired key stays published.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type JSONWebKeySet, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS, freshConfig } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { browse, client, discover, signIn, startAuthorization } from '../../helpers/rp.ts';
import { freePort } from '../../helpers/net.ts';

const REDIRECT_URI = 'https://notes.example.test/callback';
const SCOPE = 'openid offline_access email profile';
const USER = { username: 'dora', email: 'dora@example.com', firstname: 'Dora', lastname: 'Lind', password: 'durable-password-1' };

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type PublishedKey = { kid: string; key_ops?: string[] };

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`Durability and key rotation (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let config: client.Configuration;
    let clientId: string;

    const jwks = async (): Promise<JSONWebKeySet & { keys: PublishedKey[] }> => {
      const response = await fetch(`${gatehouse.issuer}/.well-known/jwks.json`);
      assert.equal(response.status, 200);
      return (await response.json()) as JSONWebKeySet & { keys: PublishedKey[] };
    };

    /** A code for the signed-in browser, without a form. */
    const silentCode = async (browser: Browser) => {
      const start = await startAuthorization(config, REDIRECT_URI, SCOPE, { prompt: 'none' });
      const outcome = await browse(browser, start.url, REDIRECT_URI);
      const callbackUrl = outcome.callbackUrl;
      assert.ok(callbackUrl, `no redirect: ${outcome.page?.status}`);
      assert.ok(callbackUrl.searchParams.get('code'), `no code: ${callbackUrl.search}`);
      return { start, callbackUrl };
    };

    const redeem = (silent: Awaited<ReturnType<typeof silentCode>>) =>
      client.authorizationCodeGrant(config, silent.callbackUrl, {
        pkceCodeVerifier: silent.start.codeVerifier,
        expectedState: silent.start.state,
        expectedNonce: silent.start.nonce,
        idTokenExpected: true,
      });

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { users, apps } = gatehouse.directory;
      await users.create(USER);
      const { app, clientSecret } = await apps.create({
        label: 'Notes',
        redirect_uris: [REDIRECT_URI],
        auth_method: 'client_secret_basic',
        refresh_token: true,
        scopes: ['email', 'profile'],
      });
      await apps.bind(app.id, 'All Users');
      clientId = app.client_id;
      config = await discover({ issuer: gatehouse.issuer, clientId, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
    });
    after(() => gatehouse?.close());

    test('a restart loses no session, code or token', async () => {
      const { tokens, browser } = await signIn(config, { redirectUri: REDIRECT_URI, scope: SCOPE, username: USER.username, password: USER.password });
      const sub = tokens.claims()?.sub as string;
      assert.ok(tokens.refresh_token);
      // A code issued but not yet redeemed when the server goes down.
      const pending = await silentCode(browser);
      // And someone else halfway through signing in: the form is on their screen.
      const halfway = new Browser();
      const halfwayStart = await startAuthorization(config, REDIRECT_URI, SCOPE);
      const formPage = await browse(halfway, halfwayStart.url, REDIRECT_URI);
      assert.ok(formPage.page && /action="[^"]*\/identify"/.test(formPage.page.html), 'the sign-in page (identifier step)');

      await gatehouse.stop();
      await gatehouse.restart();
      // The RP's HTTP client shares this process's event loop with the server (and SQLite is
      // synchronous): give it a turn to see the old server close its keep-alive sockets, as an RP in
      // its own process would, or fetch reuses a dead socket ("other side closed").
      await sleep(100);

      const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub);
      assert.equal(userinfo.email, USER.email, 'the access token still works');

      const redeemed = await redeem(pending);
      assert.equal(redeemed.claims()?.sub, sub, 'the pending code is still redeemable');

      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      assert.ok(refreshed.access_token);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
      assert.equal((await client.fetchUserInfo(config, refreshed.access_token, sub)).sub, sub);

      const again = await redeem(await silentCode(browser));
      assert.equal(again.claims()?.sub, sub, 'the browser session survived');

      // The form shown before the restart can be submitted after it (interaction and CSRF token survive).
      const finished = await browse(halfway, formPage.page.url, REDIRECT_URI, { username: USER.username, password: USER.password });
      assert.ok(finished.callbackUrl, `the half-done sign-in failed: ${finished.page?.status} ${finished.page?.html.slice(0, 300)}`);
      const halfwayTokens = await client.authorizationCodeGrant(config, finished.callbackUrl, {
        pkceCodeVerifier: halfwayStart.codeVerifier,
        expectedState: halfwayStart.state,
        expectedNonce: halfwayStart.nonce,
      });
      assert.equal(halfwayTokens.claims()?.sub, sub);

      // The ID token from before the restart still verifies against the published keys.
      await jwtVerify(tokens.id_token as string, createLocalJWKSet(await jwks()), { issuer: config.serverMetadata().issuer, audience: clientId });
    });

    // Run as `gatehouse serve` in its own process: if it dies, only it dies, and the test sees it.
    test('the server survives PostgreSQL dropping its connections (failover, idle_session_timeout, pg_terminate_backend)', { skip: kind !== 'postgres' && 'PostgreSQL only' }, async () => {
      const { config: serveConfig, cleanup } = await freshConfig('postgres');
      const port = await freePort();
      const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--issuer', `http://127.0.0.1:${port}`, '--data-dir', serveConfig.dataDir], {
        env: { PATH: process.env.PATH ?? '', GATEHOUSE_DATABASE_URL: serveConfig.databaseUrl, GATEHOUSE_LOG_LEVEL: 'fatal' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const base = `http://127.0.0.1:${port}`;
        const deadline = Date.now() + 15_000;
        while (!output.includes('listening')) {
          assert.equal(child.exitCode, null, `gatehouse serve exited: ${output}`);
          assert.ok(Date.now() < deadline, `gatehouse serve did not start: ${output}`);
          await sleep(50);
        }
        // A request that reads the database, so the pool holds idle connections.
        const probe = async () => (await fetch(`${base}/userinfo`, { headers: { authorization: 'Bearer not-a-token' } })).status;
        assert.equal(await probe(), 401);

        const admin = new pg.Client({ connectionString: serveConfig.databaseUrl });
        admin.on('error', () => {});
        await admin.connect();
        try {
          const { rowCount } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
          assert.ok(rowCount && rowCount > 0, 'Gatehouse had connections to end');
        } finally {
          await admin.end();
        }
        await sleep(300);
        assert.equal(child.exitCode, null, `Gatehouse crashed (exit ${child.exitCode}) when PostgreSQL ended its idle connections:\n${output.slice(0, 600)}`);
        assert.equal(await probe(), 401, 'and still serves, on new connections');
      } finally {
        if (child.exitCode === null) child.kill('SIGTERM');
        await exited;
        await cleanup();
      }
    });

    test('key rotation while running: next becomes current within a second, the old key stays published', async () => {
      const { tokens, browser } = await signIn(config, { redirectUri: REDIRECT_URI, scope: SCOPE, username: USER.username, password: USER.password });
      const before = await gatehouse.runtime.keys.list();
      const oldCurrent = before.find((key) => key.state === 'current')?.kid;
      const next = before.find((key) => key.state === 'next')?.kid;
      assert.ok(oldCurrent && next);
      assert.equal(decodeProtectedHeader(tokens.id_token as string).kid, oldCurrent);
      const published = await jwks();
      assert.ok(published.keys.some((key) => key.kid === next), 'the next key is published before it signs');
      assert.deepEqual(published.keys.find((key) => key.kid === next)?.key_ops, ['verify']);

      await gatehouse.runtime.keys.rotate();
      const after = await gatehouse.runtime.keys.list();
      assert.equal(after.find((key) => key.state === 'current')?.kid, next);
      assert.equal(after.find((key) => key.state === 'previous')?.kid, oldCurrent);
      const freshNext = after.find((key) => key.state === 'next')?.kid;
      assert.ok(freshNext && freshNext !== next && freshNext !== oldCurrent);

      // The running server notices on its own; ID tokens switch to the new key within ~1 s.
      const deadline = Date.now() + 1500;
      let kid: string | undefined;
      let latest: client.TokenEndpointResponse | undefined;
      while (Date.now() < deadline) {
        latest = await redeem(await silentCode(browser));
        kid = decodeProtectedHeader(latest.id_token as string).kid;
        if (kid === next) break;
        await sleep(100);
      }
      assert.equal(kid, next, 'ID tokens issued after the rotation are signed with the promoted key');

      const set = await jwks();
      const kids = set.keys.map((key) => key.kid);
      assert.ok(kids.includes(next), 'the new current key is published');
      assert.equal(set.keys.find((key) => key.kid === next)?.key_ops, undefined, 'and is the signing key now');
      assert.ok(kids.includes(oldCurrent), 'the old key is still published for tokens it signed');
      assert.ok(kids.includes(freshNext), 'the fresh next key is published ahead of time');
      // Relying parties verify both generations against the published set.
      const verifier = createLocalJWKSet(set);
      const expect = { issuer: config.serverMetadata().issuer, audience: clientId };
      await jwtVerify(tokens.id_token as string, verifier, expect);
      await jwtVerify(latest?.id_token as string, verifier, expect);

      // Tokens from before the rotation keep working.
      assert.ok(tokens.refresh_token);
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
      assert.ok(refreshed.access_token);
      if (refreshed.id_token) assert.equal(decodeProtectedHeader(refreshed.id_token).kid, next);
    });
  });
}
