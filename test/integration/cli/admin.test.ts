/**
 * The administration commands, end to end on both databases: administrator roles (users create
 * --role, users set-role), API keys (create, list, revoke) used against a running server that shares
 * the database, the audit log (audit list), and that every change the command line makes is in the
 * audit log under the API's action names. Each test spawns the real bin/gatehouse.js, a few at a time.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ApiKey } from '../../../src/directory/api-keys.ts';
import type { AuditEvent } from '../../../src/directory/audit.ts';
import { call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { shutdown } from '../security/support.ts';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const OS_USER = userInfo().username;
const PASSWORD = 'a-long-enough-password';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const tempDirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-admin-'));
  tempDirs.push(dir);
  return dir;
};
/** The developer's GATEHOUSE_* variables stay out; the children share a compile cache. */
const baseEnv: Record<string, string> = {};
before(() => {
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && value !== undefined) baseEnv[key] = value;
  baseEnv['NODE_COMPILE_CACHE'] = tempDir();
});
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string>, input = ''): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...baseEnv, ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

const hashOf = (key: string) => createHash('sha256').update(key).digest('base64url');

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`command line administration (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let env: Record<string, string>;
    let dataDir: string;
    const keys: string[] = [];

    /** `gatehouse ARGS --data-dir DIR` against the server's own database; must succeed quietly. */
    const ok = async (args: string[], input?: string): Promise<string> => {
      const result = await run([...args, '--data-dir', dataDir], env, input);
      assert.equal(result.code, 0, `gatehouse ${args.join(' ')} failed: ${result.stderr}`);
      assert.equal(result.stderr, '', `gatehouse ${args.join(' ')} wrote to stderr`);
      return result.stdout;
    };
    // biome-ignore lint/suspicious/noExplicitAny: parsed command output, checked field by field
    const okJson = async <T = any>(args: string[], input?: string): Promise<T> => JSON.parse(await ok([...args, '--json'], input)) as T;
    const refused = async (args: string[], code: 1 | 2, pattern: RegExp): Promise<void> => {
      const result = await run([...args, '--data-dir', dataDir], env);
      assert.equal(result.code, code, `gatehouse ${args.join(' ')}: exit ${result.code}, ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^gatehouse: [^\n]+\n$/);
      assert.match(result.stderr, pattern);
    };

    /** Independent writes, at once: both databases serialise them. */
    const writes = async <T>(...tasks: (() => Promise<T>)[]): Promise<T[]> => Promise.all(tasks.map((task) => task()));

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { config } = gatehouse.runtime;
      dataDir = config.dataDir;
      env = config.databaseUrl ? { GATEHOUSE_DATABASE_URL: config.databaseUrl } : {};
    });
    after(() => shutdown(gatehouse));

    test('roles and API keys: users create --role, users set-role, api-keys create/list/revoke; the keys work on the server', async () => {
      const [boss, bob] = await writes(
        () => okJson(['users', 'create', '--username', 'boss', '--email', 'boss@example.com', '--password-stdin', '--role', 'administrator_with_billing'], `${PASSWORD}\n`),
        () => okJson(['users', 'create', '--username', 'bob', '--email', 'bob@example.com']),
      );
      assert.equal(boss.role, 'administrator_with_billing');
      assert.equal(boss.has_password, true);
      assert.equal(bob.role, null);
      assert.match(await ok(['users', 'set-role', 'bob', 'read_only']), /^bob is now an administrator with the role read_only\.\n$/);

      const [bossText, bobKey] = await writes<string | { api_key: ApiKey; key: string }>(
        () => ok(['api-keys', 'create', '--owner', 'boss', '--name', 'terraform', '--expires-in', '90d']),
        () => okJson(['api-keys', 'create', '--owner', 'bob@example.com', '--name', 'ci']),
      ) as [string, { api_key: ApiKey; key: string }];
      const bossKey = /^key\s+(gh_\S+)$/m.exec(bossText)?.[1] ?? '';
      assert.match(bossKey, /^gh_[A-Za-z0-9_-]{43}$/);
      assert.match(bossText, /^Created API key "terraform" \(id [0-9a-f]{24}\) for boss: scope read_write, expires (\S+)\.$/m);
      const expires = Date.parse(/expires (\S+)\.$/m.exec(bossText)?.[1] ?? '');
      assert.ok(Math.abs(expires - (Date.now() + 90 * 86400_000)) < 60_000, 'expires in 90 days');
      assert.match(bossText, /will not be shown again/);
      assert.deepEqual(Object.keys(bobKey).sort(), ['api_key', 'key']);
      assert.equal(bobKey.api_key.scope, 'read_only', "a read_only owner's key is read_only without asking");
      assert.equal(bobKey.api_key.expires, null);
      keys.push(bossKey, bobKey.key);

      // The keys work against the running server, within what their owner's role allows.
      const asBoss = await call(gatehouse, 'GET', '/api/users?limit=10', undefined, { key: bossKey, bearer: true });
      assert.equal(asBoss.status, 200, asBoss.text);
      assert.equal((await call(gatehouse, 'GET', '/api/users', undefined, { key: bobKey.key })).status, 200);
      assert.equal((await call(gatehouse, 'POST', '/api/users', { username: 'mallory', email: 'mallory@example.com' }, { key: bobKey.key })).status, 403);

      const [all, bobsTable] = await Promise.all([okJson<ApiKey[]>(['api-keys', 'list']), ok(['api-keys', 'list', '--owner', 'bob'])]);
      assert.deepEqual(all.map((k) => `${k.owner.username}/${k.name}`).sort(), ['bob/ci', 'boss/terraform']);
      const lines = bobsTable.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^NAME\s+OWNER\s+SCOPE\s+PREFIX\s+STATUS\s+EXPIRES\s+LAST USED\s+CREATED\s+ID$/);
      assert.equal(lines.length, 2);
      assert.match(lines[1] ?? '', /^ci\s+bob\s+read_only\s+gh_\S+…\s+active\s+never\s+\S+\s+\S+\s+[0-9a-f]{24}$/);
      for (const output of [JSON.stringify(all), bobsTable]) {
        for (const key of keys) assert.equal(output.includes(key) || output.includes(hashOf(key)), false, 'a key is shown only when created');
      }

      const [revokedText, shown] = await Promise.all([ok(['api-keys', 'revoke', bobKey.api_key.id]), ok(['users', 'show', 'bob'])]);
      assert.match(revokedText, new RegExp(`^Revoked API key "ci" of bob \\(id ${bobKey.api_key.id}\\)\\.\\n$`));
      assert.match(shown, /^role\s+read_only$/m);
      assert.equal((await call(gatehouse, 'GET', '/api/users', undefined, { key: bobKey.key })).status, 401, 'a revoked key stops working at once');
      const listed = await call(gatehouse, 'GET', '/api/api-keys?owner=bob', undefined, { key: bossKey });
      assert.ok(listed.body[0]?.revoked, 'and is listed as revoked');
      assert.equal((await okJson(['users', 'set-role', 'bob', 'none'])).role, null);

      // Refusals that reach the directory are recorded (see the next test); usage errors change nothing anywhere.
      await Promise.all([
        refused(['api-keys', 'create', '--owner', 'bob', '--name', 'useless'], 1, /bob has no administrator role/),
        refused(['api-keys', 'revoke', '0123456789abcdef01234567'], 1, /No api_key matches "0123456789abcdef01234567"/),
        ...(kind === 'sqlite'
          ? [
              refused(['users', 'set-role', 'bob', 'superuser'], 2, /ROLE must be one of administrator_with_billing, .*none \(got "superuser"\)/),
              refused(['users', 'create', '--username', 'eve', '--email', 'eve@example.com', '--role', 'god'], 2, /--role must be one of/),
              refused(['api-keys', 'create', '--owner', 'boss', '--name', 'x', '--expires-in', 'soon'], 2, /--expires-in expects a duration/),
              refused(['audit', 'list', '--limit', '0'], 2, /--limit expects a whole number from 1 to 1000/),
              refused(['audit', 'list', '--since', 'yesterday'], 1, /"yesterday" is not a date and time/),
            ]
          : []),
      ]);
    });

    test('every change the command line makes is in the audit log, under the API’s action names', async () => {
      await writes(
        () => ok(['groups', 'create', 'Ops']),
        () => ok(['apps', 'create', '--label', 'Wiki', '--redirect-uri', 'https://wiki.example.com/cb']),
        () => ok(['keys', 'rotate']),
        () => ok(['users', 'suspend', 'bob']),
      );
      await writes(
        () => ok(['groups', 'add-member', 'Ops', 'boss']),
        () => ok(['apps', 'bind', 'Wiki', 'Ops']),
      );

      const [log, page, bobs] = await Promise.all([
        okJson<{ data: AuditEvent[]; total: number; limit: number; offset: number }>(['audit', 'list', '--limit', '1000']),
        ok(['audit', 'list', '--action', 'api_key.*', '--limit', '1']),
        ok(['audit', 'list', '--target', 'bob', '--actor', OS_USER, '--since', '1h']),
      ]);
      assert.equal(log.total, log.data.length);
      for (const event of log.data) assert.deepEqual(event.actor, { type: 'cli', id: null, name: OS_USER });
      const done = log.data.filter((e) => e.outcome === 'success').map((e) => `${e.action} ${e.target?.name ?? ''}`.trim());
      assert.deepEqual(done.sort(), [
        'api_key.create bob/ci',
        'api_key.create boss/terraform',
        'api_key.revoke bob/ci',
        'app.bind Wiki',
        'app.create Wiki',
        'group.add_member Ops',
        'group.create Ops',
        'keys.rotate',
        'user.create bob',
        'user.create boss',
        'user.set_role bob',
        'user.set_role bob',
        'user.suspend bob',
      ]);
      const failed = log.data.filter((e) => e.outcome === 'failure').map((e) => `${e.action} ${String(e.details['code'])}`);
      assert.deepEqual(failed.sort(), ['api_key.create api_key.owner_not_admin', 'api_key.revoke api_key.not_found'], 'refusals are recorded with their reason');
      const byAction = (action: string) => log.data.find((e) => e.action === action && e.outcome === 'success');
      assert.deepEqual(byAction('group.add_member')?.details, { user: { id: (await gatehouse.directory.users.get('boss')).id, username: 'boss' } });
      assert.equal(byAction('keys.rotate')?.target?.id, (await gatehouse.runtime.keys.list()).find((k) => k.state === 'current')?.kid);
      assert.deepEqual(
        log.data.filter((e) => e.action === 'user.set_role').map((e) => e.details),
        [{ role: null }, { role: 'read_only' }],
        'newest first',
      );

      // The same trail through the API, and the text form with its filters.
      const viaApi = await call(gatehouse, 'GET', `/api/audit-events?actor=${encodeURIComponent(OS_USER)}&action=${encodeURIComponent('api_key.*')}`, undefined, { key: keys[0] });
      assert.equal(viaApi.status, 200, viaApi.text);
      assert.equal(viaApi.body.total, 5, 'two keys created, one revoked, two refusals');
      const pageLines = page.trimEnd().split('\n');
      assert.match(pageLines[0] ?? '', /^TIME\s+ACTOR\s+ACTION\s+TARGET\s+OUTCOME$/);
      assert.match(pageLines[1] ?? '', new RegExp(`^\\S+Z\\s+cli:${OS_USER}\\s+api_key\\.`));
      assert.equal(pageLines[2], 'Events 1-1 of 5; see more with --offset 1.');
      assert.match(bobs, /user\.suspend\s+user:bob\s+success/);
      assert.match(bobs, /user\.create\s+user:bob\s+success/);
      assert.doesNotMatch(bobs, /boss/);

      // No key, and no hash of one, anywhere in the stored log.
      const dump = JSON.stringify(await gatehouse.runtime.storage.db.selectFrom('audit_events').selectAll().execute());
      for (const key of keys) assert.equal(dump.includes(key) || dump.includes(hashOf(key)), false, 'a key in the audit log');
    });
  });
}

test(
  'two commands changing one SQLite database at once both succeed',
  async () => {
    const dir = tempDir();
    assert.equal((await run(['init', '--data-dir', dir], {})).code, 0);
    const results = await Promise.all(
      ['a', 'b', 'c'].map((name) => run(['users', 'create', '--username', name, '--email', `${name}@example.com`, '--password-stdin', '--data-dir', dir], {}, `${PASSWORD}\n`)),
    );
    for (const result of results) assert.equal(result.code, 0, result.stderr);
  },
);

test('serve on an empty database explains how to create the first administrator', { timeout: 30_000 }, async () => {
  const dir = tempDir();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dir], { env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!/api-keys create.*\n/.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  try {
    assert.match(stdout, /^No users yet: create the first one with gatehouse users create --username USERNAME --email EMAIL --password-stdin --role administrator_with_billing --data-dir \S+$/m, stderr);
    assert.match(stdout, /first administrator.*gatehouse api-keys create --owner USERNAME --name NAME/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});
