/**
 * The command line as a newcomer meets it in the first hour (issue 9, "The command line"): the real
 * bin/gatehouse.js, spawned with Node 24, against real SQLite files and a real PostgreSQL. Only
 * `serve` and `init` create a data directory; a typo in --data-dir is refused; serve checks its port
 * before creating anything; configuration errors name their variable; global options go before or
 * after the command; the apps commands print the issuer the server runs with; the audit log shows
 * why a sign-in was refused; and the input rules (redirect URIs, passwords) hold on the command line.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Browser } from '../../helpers/browser.ts';
import { DATABASE_KINDS, freshConfig } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { freePort } from '../../helpers/net.ts';
import { browse, discover, startAuthorization } from '../../helpers/rp.ts';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const PASSWORD = 'a-long-enough-password';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-first-'));
  tempDirs.push(dir);
  return dir;
}
/** A path inside a temp directory that does not exist yet. */
const missingDir = (name = 'data') => join(tempDir(), name);

/** The developer's GATEHOUSE_* variables stay out; the children share a compile cache. */
const baseEnv: Record<string, string> = {};
before(() => {
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && value !== undefined) baseEnv[key] = value;
  baseEnv['NODE_COMPILE_CACHE'] = tempDir();
});
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function gh(args: string[], env: Record<string, string> = {}, input = ''): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...baseEnv, ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

async function ok(args: string[], env?: Record<string, string>, input?: string): Promise<string> {
  const result = await gh(args, env, input);
  assert.equal(result.code, 0, `gatehouse ${args.join(' ')} failed: ${result.stderr}`);
  assert.equal(result.stderr, '', `gatehouse ${args.join(' ')} wrote to stderr`);
  return result.stdout;
}

/** A refusal: the exit status, one line on stderr matching `pattern`, nothing on stdout, no stack trace. */
async function refused(args: string[], code: 1 | 2, pattern: RegExp, env?: Record<string, string>, input?: string): Promise<string> {
  const result = await gh(args, env, input);
  const label = `gatehouse ${args.join(' ')}`;
  assert.equal(result.code, code, `${label}: exit ${result.code}, stderr ${result.stderr}`);
  assert.equal(result.stdout, '', `${label} printed to stdout`);
  assert.match(result.stderr, /^gatehouse: [^\n]+\n$/, `${label}: stderr is not one line: ${JSON.stringify(result.stderr)}`);
  assert.match(result.stderr, pattern, label);
  assert.doesNotMatch(result.stderr, /\bat .*:\d+:\d+|unexpected error/, `${label} printed a stack trace or an unexpected error`);
  return result.stderr;
}

/** `gatehouse serve ARGS` in the background, once it has said where it listens. */
async function serve(args: string[], env: Record<string, string> = {}): Promise<{ stdout: () => string; stop(): Promise<number | null> }> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', ...args], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!/^Admin console: .*$/m.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  if (!/^Gatehouse listening on /m.test(stdout)) {
    child.kill('SIGKILL');
    assert.fail(`serve did not start: ${stderr}`);
  }
  return {
    stdout: () => stdout,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Holds a TCP port on the loopback address, as another program would. */
function occupy(): Promise<{ port: number; server: Server }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ port: typeof address === 'object' && address ? address.port : 0, server });
    });
  });
}

test('init creates the data directory, database and secret key and says so; again, it changes nothing', async () => {
  const dir = missingDir();
  const out = await ok(['init', '--data-dir', dir]);
  assert.match(out, new RegExp(`^Created the Gatehouse data directory ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
  assert.match(out, /gatehouse\.db/);
  assert.match(out, /secret\.key/);
  assert.ok(existsSync(join(dir, 'gatehouse.db')));
  assert.ok(existsSync(join(dir, 'secret.key')));
  assert.match(await ok(['users', 'list', '--data-dir', dir]), /^No users yet\./);
  const again = await ok(['init', '--data-dir', dir]);
  assert.match(again, /already holds a Gatehouse database/);
  const json = JSON.parse(await ok(['init', '--data-dir', dir, '--json']));
  assert.equal(json.created, false);
  assert.equal(json.data_dir, dir);
});

test('a data directory without a Gatehouse database is refused by every command but serve and init, and is not created', async () => {
  const parent = tempDir();
  const typo = join(parent, 'typo');
  await refused(['users', 'list', '--data-dir', typo], 2, new RegExp(`no Gatehouse database in ${typo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*gatehouse init`));
  await refused(['users', 'create', '--username', 'ann', '--email', 'ann@example.com', '--data-dir', typo], 2, /no Gatehouse database in/);
  await refused(['keys', 'list'], 2, /no Gatehouse database in .*GATEHOUSE_DATA_DIR/, { GATEHOUSE_DATA_DIR: typo });
  assert.deepEqual(readdirSync(parent), [], 'nothing was created');
  // An existing but empty directory (mkdir'd by hand, or the wrong one) is refused too, and left empty.
  const empty = tempDir();
  await refused(['apps', 'list', '--data-dir', empty], 2, /no Gatehouse database in/);
  assert.deepEqual(readdirSync(empty), []);
});

test('serve checks its port before creating anything: a port in use leaves no data directory behind', { timeout: 30_000 }, async () => {
  const { port, server } = await occupy();
  try {
    const dir = missingDir();
    await refused(['serve', '--port', String(port), '--data-dir', dir], 1, new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
    assert.equal(existsSync(dir), false, 'no data directory was created');
  } finally {
    server.close();
  }
});

test('global options go before the command as well as after it; a bad --port is a usage error', { timeout: 30_000 }, async () => {
  const dir = missingDir();
  await ok(['--data-dir', dir, 'init']);
  await ok(['--data-dir', dir, 'users', 'create', '--username', 'ann', '--email', 'ann@example.com']);
  assert.deepEqual(JSON.parse(await ok(['--json', '--data-dir', dir, 'users', 'list'])).map((u: { username: string }) => u.username), ['ann']);
  assert.deepEqual(JSON.parse(await ok([`--data-dir=${dir}`, 'users', '--json', 'list'])).length, 1);
  assert.match(await ok(['users', 'show', 'ann', '--data-dir', dir]), /^username\s+ann$/m);
  await refused(['--bogus', 'users', 'list'], 2, /unknown option --bogus/);
  await refused(['--data-dir'], 2, /--data-dir needs a value/);
  await refused(['--port', '9100', 'users', 'list', '--data-dir', dir], 2, /unknown option --port/);
  for (const args of [['serve', '--port', 'abc'], ['--port', '99999', 'serve'], ['serve', '--port=-1']]) {
    const fresh = missingDir();
    await refused([...args, '--data-dir', fresh], 2, /--port \/ GATEHOUSE_PORT: .* is not a port number/);
    assert.equal(existsSync(fresh), false);
  }
  await refused(['users', 'list', '--data-dir', dir], 2, /GATEHOUSE_PORT: "x" is not a port number/, { GATEHOUSE_PORT: 'x' });
});

test('a bad or unreachable GATEHOUSE_DATABASE_URL is named in one line', { timeout: 30_000 }, async () => {
  const dir = missingDir();
  const stderr = await refused(['users', 'list', '--data-dir', dir], 2, /^gatehouse: GATEHOUSE_DATABASE_URL: .*not a valid URL/, { GATEHOUSE_DATABASE_URL: 'postgres://u:secretpw@127.0.0.1:notaport/db' });
  assert.doesNotMatch(stderr, /secretpw/, 'the password is not printed');
  for (const args of [['users', 'list'], ['serve', '--port', '0']]) {
    const url = `postgres://u:secretpw@127.0.0.1:${await freePort()}/db`;
    // With the secret key given, the data directory has nothing to hold: the database is all there is to reach.
    const env = { GATEHOUSE_DATABASE_URL: url, GATEHOUSE_SECRET_KEY: 'k'.repeat(32) };
    const message = await refused([...args, '--data-dir', dir], 1, /^gatehouse: GATEHOUSE_DATABASE_URL: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/db/, env);
    assert.doesNotMatch(message, /secretpw/);
  }
  assert.equal(existsSync(dir), false, 'nothing was created');
});

test('the command line refuses wildcard redirect URIs and blank passwords, and warns about plain http to other hosts', async () => {
  const dir = missingDir();
  await ok(['init', '--data-dir', dir]);
  await refused(['apps', 'create', '--label', 'Wild', '--redirect-uri', 'https://*.example.com/cb', '--data-dir', dir], 1, /Redirect URI "https:\/\/\*\.example\.com\/cb" must not contain \*/);
  await refused(['apps', 'create', '--label', 'Wild', '--redirect-uri', 'https://app.example.com/*', '--data-dir', dir], 1, /must not contain \*/);
  await refused(['users', 'create', '--username', 'ann', '--email', 'ann@example.com', '--password-stdin', '--data-dir', dir], 1, /only of spaces/, {}, '          \n');
  await ok(['users', 'create', '--username', 'ann', '--email', 'ann@example.com', '--data-dir', dir]);
  await refused(['users', 'set-password', 'ann', '--password-stdin', '--data-dir', dir], 1, /only of spaces/, {}, ' \t \u00a0       \n');
  assert.equal(JSON.parse(await ok(['apps', 'list', '--json', '--data-dir', dir])).length, 0);

  const plain = await gh(['apps', 'create', '--label', 'Plain', '--redirect-uri', 'http://app.example.com/cb', '--redirect-uri', 'http://localhost:3000/cb', '--data-dir', dir]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /^Created app "Plain"/m);
  assert.match(plain.stderr, /^gatehouse: warning: redirect URI http:\/\/app\.example\.com\/cb is plain http to a host other than this machine/);
  assert.equal(plain.stderr.trimEnd().split('\n').length, 1, 'one warning, and none for the loopback URI');
  for (const uri of ['http://localhost:3000/cb', 'http://127.0.0.1:8080/cb', 'http://[::1]/cb', 'https://app.example.com/cb']) {
    await ok(['apps', 'create', '--label', `Quiet ${uri}`, '--redirect-uri', uri, '--data-dir', dir]);
  }
});

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`the command line beside a server (${kind})`, { skip }, () => {
    test('apps create and apps show print the issuer the server runs with; an explicit --issuer or GATEHOUSE_ISSUER wins', { timeout: 60_000 }, async () => {
      const { config, cleanup } = await freshConfig(kind);
      try {
        const env: Record<string, string> = config.databaseUrl ? { GATEHOUSE_DATABASE_URL: config.databaseUrl } : {};
        const dir = config.dataDir;
        await ok(['init', '--data-dir', dir], env);
        // Before any server ran, the configured issuer is all there is.
        const before = await ok(['apps', 'create', '--label', 'Early', '--redirect-uri', 'https://early.example.com/cb', '--data-dir', dir], env);
        assert.match(before, /^discovery\s+http:\/\/localhost:9000\/\.well-known\/openid-configuration$/m);

        const port = await freePort();
        const server = await serve(['--port', String(port), '--data-dir', dir], env);
        const issuer = `http://localhost:${port}`;
        try {
          assert.match(server.stdout(), new RegExp(`\\(issuer ${issuer}\\)`));
          const created = await ok(['apps', 'create', '--label', 'Wiki', '--redirect-uri', 'https://wiki.example.com/cb', '--data-dir', dir], env);
          assert.match(created, new RegExp(`^discovery\\s+${issuer}/\\.well-known/openid-configuration$`, 'm'));
          const shown = await ok(['apps', 'show', 'Wiki', '--data-dir', dir], env);
          assert.match(shown, new RegExp(`^issuer\\s+${issuer}$`, 'm'));
          assert.equal(JSON.parse(await ok(['apps', 'show', 'Wiki', '--json', '--data-dir', dir], env)).issuer, issuer);
          const regenerated = await ok(['apps', 'regenerate-secret', 'Wiki', '--data-dir', dir], env);
          assert.match(regenerated, new RegExp(`^discovery\\s+${issuer}/`, 'm'));
          // Said explicitly to the command line, the issuer is that one.
          assert.equal(JSON.parse(await ok(['apps', 'show', 'Wiki', '--json', '--data-dir', dir], { ...env, GATEHOUSE_ISSUER: 'https://id.example.com/' })).issuer, 'https://id.example.com');
          assert.match(await ok(['apps', 'show', 'Wiki', '--issuer', 'https://sso.example.org', '--data-dir', dir], env), /^issuer\s+https:\/\/sso\.example\.org$/m);
        } finally {
          assert.equal(await server.stop(), 0);
        }
      } finally {
        await cleanup();
      }
    });

    test('audit list shows why a sign-in was refused', { timeout: 60_000 }, async () => {
      let gatehouse: TestGatehouse | undefined;
      try {
        gatehouse = await startGatehouse(kind);
        const { users, groups, apps } = gatehouse.directory;
        const redirectUri = 'https://audited.example.test/cb';
        await users.create({ username: 'ines', email: 'ines@example.com', password: PASSWORD });
        await groups.create('audited');
        await groups.addMember('audited', 'ines');
        const { app, clientSecret } = await apps.create({ label: 'Audited', redirect_uris: [redirectUri] });
        await apps.bind(app.id, 'audited');
        const rp = await discover({ issuer: gatehouse.issuer, clientId: app.client_id, clientSecret, authMethod: 'client_secret_basic', redirectUri });
        const start = await startAuthorization(rp, redirectUri, 'openid');
        await browse(new Browser(), start.url, redirectUri, { username: 'ines', password: 'not-the-password' });

        const { config } = gatehouse.runtime;
        const env: Record<string, string> = config.databaseUrl ? { GATEHOUSE_DATABASE_URL: config.databaseUrl } : {};
        const out = await ok(['audit', 'list', '--action', 'user.sign_in', '--data-dir', config.dataDir], env);
        assert.match(out, /user\.sign_in\s+app:Audited\s+failure \(bad_password\)$/m);
        assert.doesNotMatch(out, /failure \(\?\)/);
      } finally {
        await gatehouse?.close();
      }
    });
  });
}
