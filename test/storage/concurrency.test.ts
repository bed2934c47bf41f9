import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../../src/config/config.ts';
import { DomainError } from '../../src/directory/errors.ts';
import { LOCKOUT_THRESHOLD } from '../../src/directory/users.ts';
import { type Runtime, openRuntime } from '../../src/runtime.ts';
import { openStorage } from '../../src/storage/db.ts';
import { migrations } from '../../src/storage/migrate.ts';
import { DATABASE_KINDS, freshConfig, freshRuntime } from '../helpers/databases.ts';
import { unique } from '../helpers/domain.ts';

const PASSWORD = 'correct horse battery staple';
const SECRET = 'a fixed installation secret shared by all test nodes';
/** One settled result of each promise: exactly one must have succeeded, the rest failed with a 409. */
function exactlyOneWins(results: PromiseSettledResult<unknown>[]): void {
  const wins = results.filter((r) => r.status === 'fulfilled');
  const losses = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  assert.equal(wins.length, 1, `exactly one succeeds (errors: ${losses.map(String).join('; ')})`);
  for (const error of losses) {
    assert.ok(error instanceof DomainError, `the loser gets a DomainError, not ${String(error)}`);
    assert.equal(error.status, 409);
  }
}

// A separate Node process per "node" of a cluster, all released at the same instant: what several
// servers (or the server and the CLI) starting together on one fresh database do. Each child loads
// the code, reports "ready", and starts when the parent writes "go" to every child at once.
const CHILD = `
const { openRuntime } = await import(${JSON.stringify(new URL('../../src/runtime.ts', import.meta.url).href)});
const { openStorage } = await import(${JSON.stringify(new URL('../../src/storage/db.ts', import.meta.url).href)});
const config = JSON.parse(process.env.GH_TEST_CONFIG);
process.stdout.write('ready\\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.destroy();
try {
  if (process.env.GH_TEST_MODE === 'storage') {
    const storage = await openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
    await storage.close();
  } else {
    const runtime = await openRuntime(config);
    await runtime.close();
  }
  process.stdout.write('ok');
} catch (error) {
  process.stdout.write('error: ' + (error && error.message));
}
`;

async function startNodesAtOnce(config: Config, mode: 'storage' | 'runtime', count: number): Promise<string[]> {
  const env: NodeJS.ProcessEnv = { ...process.env, GH_TEST_CONFIG: JSON.stringify(config), GH_TEST_MODE: mode };
  delete env.NODE_TEST_CONTEXT;
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('ready\n')) resolve();
      });
      child.once('exit', () => resolve());
    });
    const outcome = new Promise<string>((resolve) => {
      child.once('close', (code) => {
        const result = stdout.replace(/^ready\n/, '');
        resolve(result || `error: exit ${code}: ${stderr.trim()}`);
      });
    });
    return { child, ready, outcome };
  });
  await Promise.all(children.map((c) => c.ready));
  for (const { child } of children) child.stdin.end('go\n');
  return Promise.all(children.map((c) => c.outcome));
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(kind, { skip }, () => {
    describe('parallel writes through one runtime', () => {
      let rt: Runtime;
      let config: Config;
      let cleanup: () => Promise<void>;
      before(async () => {
        ({ runtime: rt, config, cleanup } = await freshRuntime(kind));
      });
      after(() => cleanup());

      test('two users created at once with the same email: exactly one succeeds', async () => {
        const email = `${unique('same')}@example.com`;
        const results = await Promise.allSettled([
          rt.directory.users.create({ username: unique('first'), email, password: PASSWORD }),
          rt.directory.users.create({ username: unique('second'), email: email.toUpperCase(), password: PASSWORD }),
        ]);
        exactlyOneWins(results);
        const rows = await rt.storage.db.selectFrom('users').select('id').where('email_key', '=', email.toLowerCase()).execute();
        assert.equal(rows.length, 1);
      });

      test('two users created at once with the same username: exactly one succeeds', async () => {
        const username = unique('twin');
        const results = await Promise.allSettled([
          rt.directory.users.create({ username, email: `${unique('a')}@example.com`, password: PASSWORD }),
          rt.directory.users.create({ username: username.toUpperCase(), email: `${unique('b')}@example.com`, password: PASSWORD }),
        ]);
        exactlyOneWins(results);
        const rows = await rt.storage.db.selectFrom('users').select('id').where('username_key', '=', username.toLowerCase()).execute();
        assert.equal(rows.length, 1);
      });

      test('five groups created at once with the same name: exactly one succeeds', async () => {
        const name = unique('Race');
        const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => rt.directory.groups.create(i % 2 ? name : name.toUpperCase())));
        exactlyOneWins(results);
        const rows = await rt.storage.db.selectFrom('user_groups').select('id').where('name_key', '=', name.toLowerCase()).execute();
        assert.equal(rows.length, 1);
      });

      test('the same membership and binding added at once: all succeed, one row each', async () => {
        const name = unique('m');
        const user = await rt.directory.users.create({ username: name, email: `${name}@example.com` });
        const group = await rt.directory.groups.create(unique('Both'));
        const { app } = await rt.directory.apps.create({ label: unique('App'), redirect_uris: ['https://app.example.com/cb'] });
        await Promise.all([
          ...Array.from({ length: 4 }, () => rt.directory.groups.addMember(group.id, user.id)),
          ...Array.from({ length: 4 }, () => rt.directory.apps.bind(app.id, group.id)),
        ]);
        const db = rt.storage.db;
        assert.equal((await db.selectFrom('group_members').selectAll().where('group_id', '=', group.id).execute()).length, 1);
        assert.equal((await db.selectFrom('app_bindings').selectAll().where('app_id', '=', app.id).execute()).length, 1);
      });

      test(
        `${LOCKOUT_THRESHOLD} wrong passwords tried at once lock the account`,
        async () => {
          const name = unique('brute');
          const user = await rt.directory.users.create({ username: name, email: `${name}@example.com`, password: PASSWORD });
          await Promise.all(Array.from({ length: LOCKOUT_THRESHOLD }, (_, i) => rt.directory.users.signIn(name, `guess ${i}`)));
          const row = await rt.storage.db.selectFrom('users').select(['failed_logins', 'account_locked']).where('id', '=', user.id).executeTakeFirstOrThrow();
          assert.deepEqual({ ...row }, { failed_logins: LOCKOUT_THRESHOLD, account_locked: 1 });
        },
      );

      test('15 wrong passwords and the right one at once, on two nodes: at most the threshold is checked, the right one is refused', async () => {
        const name = unique('raced');
        const user = await rt.directory.users.create({ username: name, email: `${name}@example.com`, password: PASSWORD });
        const other = await openRuntime(config);
        try {
          const nodes = [rt, other];
          const attempts = Array.from({ length: 15 }, (_, i) => (nodes[i % 2] as Runtime).directory.users.signIn(name, `guess ${i}`));
          const right = other.directory.users.signIn(name, PASSWORD);
          const results = await Promise.all([...attempts, right]);
          assert.deepEqual(results.at(-1), { ok: false, reason: 'locked' }, 'the right password is refused');
          const reasons = results.map((result) => (result.ok ? 'ok' : result.reason));
          assert.ok(reasons.filter((reason) => reason === 'bad_credentials').length <= LOCKOUT_THRESHOLD, reasons.join(' '));
          assert.equal(reasons.filter((reason) => reason === 'bad_credentials' || reason === 'locked').length, 16, reasons.join(' '));
          const row = await rt.storage.db.selectFrom('users').select(['failed_logins', 'account_locked']).where('id', '=', user.id).executeTakeFirstOrThrow();
          assert.deepEqual({ ...row }, { failed_logins: LOCKOUT_THRESHOLD, account_locked: 1 });
          assert.deepEqual(await other.directory.users.signIn(name, PASSWORD), { ok: false, reason: 'locked' });
        } finally {
          await other.close();
        }
      });

      test('with nine failures behind it, of a wrong and a right password at once at most one is checked before the lock', async () => {
        const name = unique('ninth');
        const user = await rt.directory.users.create({ username: name, email: `${name}@example.com`, password: PASSWORD });
        for (let i = 1; i < LOCKOUT_THRESHOLD; i++) await rt.directory.users.signIn(name, `wrong ${i}`);
        const [wrong, right] = await Promise.all([rt.directory.users.signIn(name, 'wrong again'), rt.directory.users.signIn(name, PASSWORD)]);
        const row = await rt.storage.db.selectFrom('users').select(['failed_logins', 'account_locked']).where('id', '=', user.id).executeTakeFirstOrThrow();
        // However the two interleave, the right one passes only if it was done before the wrong one
        // began (the count started again); otherwise the tenth try locks the account and it is refused.
        if (right.ok) {
          assert.deepEqual(wrong, { ok: false, reason: 'bad_credentials' });
          assert.deepEqual({ ...row }, { failed_logins: 1, account_locked: 0 });
        } else {
          assert.deepEqual(right, { ok: false, reason: 'locked' });
          assert.deepEqual({ ...row }, { failed_logins: LOCKOUT_THRESHOLD, account_locked: 1 });
        }
      });
    });

    describe('several nodes starting at once on a fresh database', () => {
      test(
        'all of them open it; the migrations run once',
        async (t) => {
          const { config, cleanup } = await freshConfig(kind);
          t.after(cleanup);
          const outcomes = await startNodesAtOnce(config, 'storage', 3);
          assert.deepEqual(outcomes, ['ok', 'ok', 'ok']);
          const storage = await openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
          try {
            assert.equal((await storage.db.selectFrom('schema_migrations').select('version').execute()).length, migrations.length);
            assert.equal((await storage.db.selectFrom('user_groups').select('id').where('builtin', '=', 1).execute()).length, 1);
          } finally {
            await storage.close();
          }
        },
      );

      test(
        'all of them start; there is exactly one current and one next signing key',
        async (t) => {
          const { config, cleanup } = await freshConfig(kind, { secretKey: SECRET });
          t.after(cleanup);
          // Migrate first, so that only the key store's first start races.
          await (await openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl })).close();
          const outcomes = await startNodesAtOnce(config, 'runtime', 3);
          const storage = await openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
          try {
            const states = (await storage.db.selectFrom('signing_keys').select('state').execute()).map((r) => r.state).sort();
            assert.deepEqual({ outcomes, states }, { outcomes: ['ok', 'ok', 'ok'], states: ['current', 'next'] });
          } finally {
            await storage.close();
          }
        },
      );
    });
  });
}
