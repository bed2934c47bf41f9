/**
 * `gatehouse serve --workers 2` on one database: the workers share the port, and a change of access
 * made elsewhere (here by another process on the same database) is refused by every worker on the
 * next request, whichever answers: the version counters keep each worker's caches honest.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openRuntime, type Runtime } from '../../../src/runtime.ts';
import { DATABASE_KINDS, freshConfig } from '../../helpers/databases.ts';
import { freePort } from '../../helpers/net.ts';
import { discover, signIn } from '../../helpers/rp.ts';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const REDIRECT_URI = 'http://127.0.0.1:9/callback';
const PASSWORD = 'a long enough password for workers';

/** userinfo on a connection of its own, so that the cluster may hand it to either worker. */
function userinfo(issuer: string, accessToken: string): Promise<{ status: number; process: string }> {
  const url = new URL('/userinfo', issuer);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { authorization: `Bearer ${accessToken}` }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, process: String(res.headers['x-gatehouse-process']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Asks until both workers have answered (no timing: a bounded number of tries); every status seen, by process. */
async function fromBothWorkers(issuer: string, accessToken: string): Promise<Map<string, Set<number>>> {
  const seen = new Map<string, Set<number>>();
  for (let i = 0; i < 200 && seen.size < 2; i++) {
    const { status, process } = await userinfo(issuer, accessToken);
    seen.set(process, (seen.get(process) ?? new Set()).add(status));
  }
  return seen;
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`serve --workers 2 (${kind})`, { skip }, () => {
    let child: ChildProcess | undefined;
    let runtime: Runtime | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    after(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((resolve) => child?.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await runtime?.close();
      await cleanup?.();
    });

    test('a suspended user is refused by every worker at once; SIGTERM stops them all', { timeout: 120_000 }, async () => {
      const port = await freePort();
      const issuer = `http://127.0.0.1:${port}`;
      const fresh = await freshConfig(kind, { issuer, port, host: '127.0.0.1' });
      cleanup = fresh.cleanup;
      runtime = await openRuntime(fresh.config);
      const { users, apps } = runtime.directory;
      await users.create({ username: 'wren', email: 'wren@example.com', password: PASSWORD });
      const { app, clientSecret } = await apps.create({ label: 'Workers', redirect_uris: [REDIRECT_URI], auth_method: 'client_secret_basic', scopes: ['email'] });
      await apps.bind(app.id, 'All Users');

      const env: NodeJS.ProcessEnv = {
        ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('GATEHOUSE_'))),
        GATEHOUSE_TEST_WORKER_HEADER: '1',
        GATEHOUSE_ISSUER: issuer,
        GATEHOUSE_LOG_LEVEL: 'warn',
        ...(fresh.config.databaseUrl ? { GATEHOUSE_DATABASE_URL: fresh.config.databaseUrl } : {}),
      };
      child = spawn(process.execPath, [BIN, 'serve', '--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--data-dir', fresh.config.dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
      const deadline = Date.now() + 60_000;
      while (!/^Gatehouse listening on .* with 2 workers$/m.test(stdout) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.match(stdout, /with 2 workers/, stderr);

      const config = await discover({ issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri: REDIRECT_URI });
      const { tokens } = await signIn(config, { redirectUri: REDIRECT_URI, scope: 'openid email', username: 'wren', password: PASSWORD });

      const before = await fromBothWorkers(issuer, tokens.access_token);
      assert.equal(before.size, 2, 'both workers answered');
      for (const [pid, statuses] of before) assert.deepEqual([...statuses], [200], `worker ${pid} serves the token (and has it cached)`);

      await users.suspend('wren');
      const afterSuspend = await fromBothWorkers(issuer, tokens.access_token);
      assert.equal(afterSuspend.size, 2, 'both workers answered');
      for (const [pid, statuses] of afterSuspend) assert.deepEqual([...statuses], [401], `worker ${pid} refuses at once`);

      // A worker that dies is replaced.
      const victim = [...before.keys()][0] ?? '';
      process.kill(Number(victim), 'SIGKILL');
      const replaced = () => /exited \(SIGKILL\); starting another/.test(stderr) && (stderr.match(/\) listening/g) ?? []).length >= 3;
      // A generous bound: on a loaded CI machine a new worker takes seconds to load and migrate-check.
      const replacedBy = Date.now() + 90_000;
      while (!replaced() && Date.now() < replacedBy) await new Promise((r) => setTimeout(r, 50));
      assert.ok(replaced(), stderr);
      // Whoever answers now (not the dead worker) refuses the suspended user too.
      const replacedAnswers = await fromBothWorkers(issuer, tokens.access_token);
      assert.ok(!replacedAnswers.has(victim), 'the dead worker answers no more');
      for (const [pid, statuses] of replacedAnswers) assert.deepEqual([...statuses], [401], `worker ${pid} refuses`);

      child.kill('SIGTERM');
      assert.equal(await exited, 0, `the primary exits cleanly: ${stderr}`);
      assert.match(stderr, /worker 1 \(pid \d+\) listening/);
      assert.match(stderr, /Stopping 2 workers/);
    });
  });
}
