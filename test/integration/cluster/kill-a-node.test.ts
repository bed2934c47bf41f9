/**
 * Two Gatehouse nodes (`gatehouse serve`, separate processes and ports) on one database, as behind a
 * load balancer: one issuer, one secret key. A round-robin client keeps code exchanges and refresh
 * grants in flight at both, and one node is killed (SIGKILL) in the middle of it. Every token
 * response a client received, from either node, must stay good on the node that is left: its access
 * token accepted at userinfo, its refresh token redeemable. Requests that got no response may have
 * failed; nothing a client was given may vanish.
 *
 * SQLite too: two processes on one database file is what `serve --workers` does, and two separately
 * started servers on one data directory work the same way.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openRuntime } from '../../../src/runtime.ts';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS, freshConfig } from '../../helpers/databases.ts';
import { environmentWithoutGatehouse } from '../../helpers/environment.ts';
import { freePort } from '../../helpers/net.ts';
import { discover, signIn } from '../../helpers/rp.ts';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const SCOPE = 'openid email offline_access';
const PASSWORD = 'a long enough password for two nodes';
/** Single-use credentials of each kind that the load consumes, and how many requests are in flight. */
const CODES = 60;
const REFRESH_TOKENS = 60;
const IN_FLIGHT = 8;
/** Responses received before the node is killed. */
const KILL_AFTER = 30;

interface Answer {
  status: number;
  body: string;
}

/** One request on a connection of its own (as many clients would), so that a killed node drops exactly what it had in flight. */
function send(origin: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const url = new URL(path, origin);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: init.method ?? 'GET', headers: init.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('error', reject);
        res.on('end', () => (res.complete ? resolve({ status: res.statusCode ?? 0, body }) : reject(new Error('response cut off'))));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(init.body);
  });
}

interface Node {
  origin: string;
  child: ChildProcess;
  output: () => string;
}

async function startNode(port: number, dataDir: string, env: NodeJS.ProcessEnv): Promise<Node> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const deadline = Date.now() + 60_000;
  while (!/^Gatehouse listening on /m.test(output) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.match(output, /^Gatehouse listening on /m, output);
  return { origin: `http://127.0.0.1:${port}`, child, output: () => output };
}

async function stopNode(node: Node | undefined): Promise<void> {
  const child = node?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Runs task(0..n-1) with `width` in flight. */
async function pool(n: number, width: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`two nodes on one database, one killed mid-load (${kind})`, { skip }, () => {
    const nodes: Node[] = [];
    let cleanup: (() => Promise<void>) | undefined;
    after(async () => {
      for (const node of nodes) await stopNode(node);
      await cleanup?.();
    });

    test('every token response a client received stays good on the node that is left', { timeout: 180_000 }, async (t) => {
      const [portA, portB] = [await freePort(), await freePort()];
      assert.notEqual(portA, portB);
      // The public URL both nodes answer for (a load balancer's, in production); node A's address stands for it.
      const issuer = `http://127.0.0.1:${portA}`;
      const secretKey = randomBytes(32).toString('base64url');
      const fresh = await freshConfig(kind, { issuer, port: portA, host: '127.0.0.1', secretKey });
      cleanup = fresh.cleanup;
      const runtime = await openRuntime(fresh.config);
      let clientId: string;
      let clientSecret: string;
      try {
        const { users, apps } = runtime.directory;
        await users.create({ username: 'wren', email: 'wren@example.com', password: PASSWORD });
        const created = await apps.create({ label: 'Two nodes', redirect_uris: [REDIRECT_URI], auth_method: 'client_secret_basic', refresh_token: true, scopes: ['email'] });
        await apps.bind(created.app.id, 'All Users');
        clientId = created.app.client_id;
        clientSecret = created.clientSecret ?? assert.fail('a confidential app has a secret');
      } finally {
        await runtime.close();
      }

      // What each node is given, as an operator would: the same issuer and secret key, the one database.
      const env: NodeJS.ProcessEnv = {
        ...environmentWithoutGatehouse(),
        GATEHOUSE_ISSUER: issuer,
        GATEHOUSE_SECRET_KEY: secretKey,
        GATEHOUSE_LOG_LEVEL: 'warn',
        ...(fresh.config.databaseUrl ? { GATEHOUSE_DATABASE_URL: fresh.config.databaseUrl } : {}),
      };
      // SQLite: the one database file lives in the data directory. PostgreSQL: a directory of each node's own.
      const dataDir = (name: string) => (kind === 'sqlite' ? fresh.config.dataDir : join(fresh.config.dataDir, name));
      const nodeA = await startNode(portA, dataDir('node-a'), env);
      nodes.push(nodeA);
      const nodeB = await startNode(portB, dataDir('node-b'), env);
      nodes.push(nodeB);

      const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
      // The paths discovery announces (under the issuer), asked of either node.
      const config = await discover({ issuer, clientId, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
      const metadata = config.serverMetadata();
      const path = (endpoint: string | undefined) => new URL(endpoint ?? assert.fail('an endpoint discovery announces')).pathname;
      const paths = { authorize: path(metadata.authorization_endpoint), token: path(metadata.token_endpoint), userinfo: path(metadata.userinfo_endpoint) };
      const tokenRequest = (origin: string, grant: Record<string, string>) =>
        send(origin, paths.token, {
          method: 'POST',
          headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(grant).toString(),
        });

      // Credentials: one sign-in, then codes without a page (prompt=none), some exchanged for refresh tokens, across both nodes.
      const browser = new Browser();
      await signIn(config, { redirectUri: REDIRECT_URI, scope: SCOPE, username: 'wren', password: PASSWORD, browser });
      const codes: string[] = [];
      for (let i = 0; i < CODES + REFRESH_TOKENS; i++) {
        const origin = i % 2 ? nodeB.origin : nodeA.origin;
        const authorize = new URL(paths.authorize, origin);
        for (const [name, value] of Object.entries({ client_id: clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: SCOPE, prompt: 'none', state: `s${i}`, nonce: `n${i}` })) {
          authorize.searchParams.set(name, value);
        }
        const step = await browser.follow(authorize.href, REDIRECT_URI);
        const code = new URL(step.url).searchParams.get('code');
        assert.ok(code, `a code without a page: ${step.url}`);
        codes.push(code);
      }
      const refreshTokens: string[] = [];
      for (const [i, code] of codes.splice(CODES).entries()) {
        const answer = await tokenRequest(i % 2 ? nodeA.origin : nodeB.origin, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI });
        assert.equal(answer.status, 200, answer.body);
        refreshTokens.push((JSON.parse(answer.body) as { refresh_token: string }).refresh_token);
      }
      const grants = [
        ...codes.map((code) => ({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI })),
        ...refreshTokens.map((token) => ({ grant_type: 'refresh_token', refresh_token: token })),
      ].sort(() => Math.random() - 0.5);

      // The load: round robin over both nodes, IN_FLIGHT at a time; node B is killed while it has requests in flight.
      const received: Array<{ node: string; answer: Answer }> = [];
      let noResponse = 0;
      let inFlightAtB = 0;
      let killedWithInFlight = -1;
      const killB = () => {
        if (killedWithInFlight >= 0 || received.length < KILL_AFTER || inFlightAtB === 0) return;
        killedWithInFlight = inFlightAtB;
        nodeB.child.kill('SIGKILL');
      };
      await pool(grants.length, IN_FLIGHT, async (index) => {
        const grant = grants[index] as Record<string, string>;
        let node = index % 2 ? nodeB : nodeA;
        for (;;) {
          const atB = node === nodeB;
          if (atB) inFlightAtB++;
          try {
            received.push({ node: atB ? 'B' : 'A', answer: await tokenRequest(node.origin, grant) });
            break;
          } catch (error) {
            // A refused connection never reached the node: the balancer sends it to the other one. Anything else got no answer.
            if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' && atB) node = nodeA;
            else {
              noResponse++;
              break;
            }
          } finally {
            if (atB) inFlightAtB--;
          }
        }
        killB();
      });
      assert.ok(killedWithInFlight > 0, 'node B was killed with requests in flight');
      await new Promise((resolve) => (nodeB.child.exitCode === null && nodeB.child.signalCode === null ? nodeB.child.once('exit', resolve) : resolve(undefined)));
      t.diagnostic(
        `${received.length} answers (${received.filter((r) => r.node === 'B').length} from node B), ${noResponse} requests without one; node B killed with ${killedWithInFlight} in flight`,
      );
      assert.ok(received.some((r) => r.node === 'B'), 'node B answered before it was killed');

      // Every answer a client got was a success, and what it holds still works on node A.
      const issued = received.map(({ node, answer }) => {
        assert.equal(answer.status, 200, `node ${node} answered ${answer.status}: ${answer.body}`);
        const tokens = JSON.parse(answer.body) as { access_token?: string; refresh_token?: string; id_token?: string };
        assert.ok(tokens.access_token && tokens.refresh_token && tokens.id_token, `node ${node} gave all three tokens`);
        return { node, accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
      });
      await pool(issued.length, 4, async (index) => {
        const { node, accessToken, refreshToken } = issued[index] as (typeof issued)[number];
        const userinfo = await send(nodeA.origin, paths.userinfo, { headers: { authorization: `Bearer ${accessToken}` } });
        assert.equal(userinfo.status, 200, `an access token node ${node} gave is accepted at userinfo: ${userinfo.body}`);
        const refreshed = await tokenRequest(nodeA.origin, { grant_type: 'refresh_token', refresh_token: refreshToken });
        assert.equal(refreshed.status, 200, `a refresh token node ${node} gave is redeemable: ${refreshed.body}`);
      });
    });
  });
}
