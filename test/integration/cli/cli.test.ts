/**
 * The gatehouse command line, end to end: every test spawns the real bin/gatehouse.js with Node 24
 * against a real SQLite file in a fresh temp data directory, and checks stdout, stderr, the exit
 * status and, for refusals, that nothing changed.
 */
import { verify } from '@node-rs/argon2';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashClientSecret } from '../../../src/directory/secrets.ts';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const SERVER = fileURLToPath(new URL('../../../src/http/server.ts', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let dataDir = '';
const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
  tempDirs.push(dir);
  return dir;
}

/**
 * The developer's GATEHOUSE_* variables must not leak into the child. The children share a compile
 * cache, which saves each of them a good part of the ~0.3 s Node spends loading the sources.
 */
const baseEnv: Record<string, string> = {};
before(async () => {
  dataDir = tempDir();
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && value !== undefined) baseEnv[key] = value;
  baseEnv['NODE_COMPILE_CACHE'] = tempDir();
  // Only serve and init create a Gatehouse database; every other command needs one.
  await ok(['init']);
});
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs `gatehouse ARGS --data-dir DIR`, feeding `input` on stdin (closed either way). */
function gh(args: string[], options: { input?: string; env?: Record<string, string>; dir?: string | null } = {}): Promise<Result> {
  const dir = options.dir === undefined ? dataDir : options.dir;
  const argv = [BIN, ...args, ...(dir === null ? [] : ['--data-dir', dir])];
  return new Promise((resolve) => {
    const child = execFile(process.execPath, argv, { env: { ...baseEnv, ...options.env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

/** Runs a command that must succeed quietly and returns its stdout. */
async function ok(args: string[], options?: Parameters<typeof gh>[1]): Promise<string> {
  const result = await gh(args, options);
  assert.equal(result.code, 0, `gatehouse ${args.join(' ')} failed: ${result.stderr}`);
  assert.equal(result.stderr, '', `gatehouse ${args.join(' ')} wrote to stderr`);
  return result.stdout;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed command output, which the assertions check field by field
async function okJson<T = any>(args: string[], options?: Parameters<typeof gh>[1]): Promise<T> {
  return JSON.parse(await ok([...args, '--json'], options)) as T;
}

/** A refusal: the exit status, one line on stderr naming the problem, nothing on stdout, no stack trace. */
async function refused(args: string[], code: 1 | 2, pattern: RegExp, options?: Parameters<typeof gh>[1]): Promise<void> {
  const result = await gh(args, options);
  const label = `gatehouse ${args.join(' ')}`;
  assert.equal(result.code, code, `${label}: exit ${result.code}, stderr ${result.stderr}`);
  assert.equal(result.stdout, '', `${label} printed to stdout`);
  assert.match(result.stderr, /^gatehouse: [^\n]+\n$/, `${label}: stderr is not one line: ${JSON.stringify(result.stderr)}`);
  assert.match(result.stderr, pattern, label);
  assert.doesNotMatch(result.stderr, /\bat .*:\d+:\d+/, `${label} printed a stack trace`);
}

/** Runs independent invocations a few at a time. */
async function inParallel(tasks: (() => Promise<void>)[], width = 6): Promise<void> {
  const queue = [...tasks];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let task = queue.shift(); task; task = queue.shift()) await task();
    }),
  );
}

function withDb<T>(work: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(join(dataDir, 'gatehouse.db'));
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    return work(db);
  } finally {
    db.close();
  }
}

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32, 1)]);
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>\n';

test('users: create, list, show, set-password, suspend, activate, unlock, delete', async () => {
  const alice = await okJson(
    ['users', 'create', '--username', 'alice', '--email', 'alice@example.com', '--first-name', 'Alice', '--last-name', 'Liddell',
      '--password-stdin', '--attribute', 'department=engineering', '--attribute', 'badge=a=1'],
    { input: 'correct horse battery\n' },
  );
  assert.equal(alice.username, 'alice');
  assert.equal(alice.firstname, 'Alice');
  assert.equal(alice.state, 'ACTIVATED');
  assert.equal(alice.has_password, true);
  assert.deepEqual(alice.attributes, { department: 'engineering', badge: 'a=1' });
  assert.equal('password_hash' in alice, false);
  // One trailing newline is stripped, nothing else.
  const hash = withDb((db) => db.prepare('SELECT password_hash FROM users WHERE id = ?').get(alice.id)?.['password_hash']) as string;
  assert.equal(await verify(hash, 'correct horse battery'), true);
  assert.equal(await verify(hash, 'correct horse battery\n'), false);

  const created = await ok(['users', 'create', '--username', 'bob', '--email', 'bob@example.com', '--state', 'STAGED']);
  assert.match(created, /^Created user bob \(id [0-9a-f]{24}\), state STAGED\.\n/);
  assert.match(created, /No password set: set one with gatehouse users set-password bob --password-stdin --data-dir /);

  const [table, list, shown, byEmail, byId] = await Promise.all([
    ok(['users', 'list']),
    okJson(['users', 'list']),
    ok(['users', 'show', 'alice']),
    okJson(['users', 'show', 'ALICE@example.com']),
    okJson(['users', 'show', alice.id]),
  ]);
  const lines = table.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0] ?? '', /^USERNAME\s+EMAIL\s+NAME\s+STATE\s+LOCKED\s+PASSWORD\s+ID$/);
  const emailColumn = (lines[0] ?? '').indexOf('EMAIL');
  assert.equal((lines[1] ?? '').indexOf('alice@example.com'), emailColumn, 'columns are aligned');
  assert.equal((lines[2] ?? '').indexOf('bob@example.com'), emailColumn, 'columns are aligned');
  assert.match(lines[2] ?? '', /bob\s+bob@example\.com\s+-\s+STAGED\s+no\s+not set/);
  assert.deepEqual(list.map((u: { username: string }) => u.username), ['alice', 'bob']);
  assert.match(shown, /^username\s+alice$/m);
  assert.match(shown, /^attributes\s+department=engineering$/m);
  assert.match(shown, /^groups\s+All Users$/m);
  assert.match(shown, /^password\s+set$/m);
  assert.equal(byEmail.id, alice.id);
  assert.equal(byId.username, 'alice');
  assert.deepEqual(byId.groups.map((g: { name: string }) => g.name), ['All Users']);
  for (const output of [table, JSON.stringify(list), shown]) assert.doesNotMatch(output, /argon2|password_hash/);

  assert.match(await ok(['users', 'set-password', 'bob', '--password-stdin'], { input: 'a freshly minted passphrase\n' }), /^Password set for bob\.\n$/);
  assert.equal((await okJson(['users', 'show', 'bob'])).has_password, true);

  assert.equal((await okJson(['users', 'suspend', 'alice'])).state, 'SUSPENDED');
  assert.equal((await okJson(['users', 'show', 'alice'])).state, 'SUSPENDED');
  assert.match(await ok(['users', 'activate', 'alice']), /^Activated alice \(alice@example\.com\)\. State ACTIVATED/);
  assert.equal((await okJson(['users', 'activate', 'bob'])).state, 'ACTIVATED');

  // Ten failed sign-ins lock an account; set that state directly, then unlock through the CLI.
  withDb((db) => db.prepare('UPDATE users SET account_locked = 1, failed_logins = 10 WHERE username = ?').run('alice'));
  assert.match(await ok(['users', 'show', 'alice']), /^locked\s+yes$/m);
  assert.equal((await okJson(['users', 'unlock', 'alice'])).account_locked, false);
  assert.equal(withDb((db) => db.prepare('SELECT failed_logins FROM users WHERE username = ?').get('alice')?.['failed_logins']), 0);

  await ok(['users', 'create', '--username', 'carol', '--email', 'carol@example.com']);
  assert.match(await ok(['users', 'delete', 'carol@example.com']), /^Deleted user carol \(carol@example\.com\)\.\n$/);
  assert.deepEqual((await okJson(['users', 'list'])).map((u: { username: string }) => u.username), ['alice', 'bob']);
});

test('groups: create, list, membership, delete', async () => {
  const group = await okJson(['groups', 'create', 'Engineering', '--description', 'People who build things']);
  assert.equal(group.name, 'Engineering');
  assert.equal(group.description, 'People who build things');
  await ok(['groups', 'create', 'temps']);
  assert.match(await ok(['groups', 'add-member', 'engineering', 'alice']), /^Added alice to Engineering\.\n$/);
  await ok(['groups', 'add-member', 'temps', 'bob@example.com']);

  const [table, list, alice] = await Promise.all([ok(['groups', 'list']), okJson(['groups', 'list']), okJson(['users', 'show', 'alice'])]);
  const lines = table.trimEnd().split('\n');
  assert.match(lines[0] ?? '', /^NAME\s+MEMBERS\s+ID\s+DESCRIPTION$/);
  assert.match(table, /^All Users\s+2\s+[0-9a-f]{24}\s+Every user in the directory \(built in\)$/m);
  assert.match(table, /^Engineering\s+1\s+[0-9a-f]{24}\s+People who build things$/m);
  assert.deepEqual(
    list.map((g: { name: string; member_count: number }) => [g.name, g.member_count]),
    [['All Users', 2], ['Engineering', 1], ['temps', 1]],
  );
  assert.deepEqual(alice.groups.map((g: { name: string }) => g.name), ['All Users', 'Engineering']);

  assert.match(await ok(['groups', 'remove-member', 'Engineering', 'alice']), /^Removed alice from Engineering\.\n$/);
  assert.deepEqual((await okJson(['users', 'show', 'alice'])).groups.map((g: { name: string }) => g.name), ['All Users']);
  await ok(['groups', 'add-member', 'Engineering', 'alice']);
  assert.match(await ok(['groups', 'delete', 'temps']), /^Deleted group temps\.\n$/);
  assert.deepEqual((await okJson(['groups', 'list'])).map((g: { name: string }) => g.name), ['All Users', 'Engineering']);
});

test('apps: create with every option, one-time secret, regenerate, bind, deactivate, delete', async () => {
  const assets = tempDir();
  writeFileSync(join(assets, 'icon.png'), PNG);
  writeFileSync(join(assets, 'icon.svg'), SVG);

  const grafana = await okJson([
    'apps', 'create', '--label', 'Grafana',
    '--redirect-uri', 'https://grafana.example.com/login/generic_oauth', '--redirect-uri', 'http://localhost:3000/cb',
    '--login-url', 'https://grafana.example.com/login', '--auth-method', 'client_secret_post',
    '--refresh-token', '--refresh-token-ttl', '12h', '--scope', 'email', '--scope', 'profile',
    '--map', 'preferred_username=username', '--map', 'dept=attributes.department', '--map-constant', 'tenant=acme=1',
    '--groups-claim', 'groups', '--post-logout-redirect-uri', 'https://grafana.example.com/',
    '--description', 'Dashboards', '--icon', join(assets, 'icon.png'),
  ]);
  const { app } = grafana;
  assert.deepEqual(Object.keys(grafana).sort(), ['app', 'client_id', 'client_secret']);
  assert.equal(grafana.client_id, app.client_id);
  assert.match(grafana.client_secret, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(app.label, 'Grafana');
  assert.deepEqual(app.redirect_uris, ['https://grafana.example.com/login/generic_oauth', 'http://localhost:3000/cb']);
  assert.equal(app.login_url, 'https://grafana.example.com/login');
  assert.equal(app.auth_method, 'client_secret_post');
  assert.equal(app.refresh_token, true);
  assert.equal(app.refresh_token_ttl, 12 * 3600);
  assert.deepEqual(app.scopes, ['email', 'profile']);
  assert.deepEqual(app.attribute_mapping, [
    { claim: 'preferred_username', source: 'field', field: 'username' },
    { claim: 'dept', source: 'attribute', attribute: 'department' },
    { claim: 'tenant', source: 'constant', value: 'acme=1' },
  ]);
  assert.equal(app.groups_claim, 'groups');
  assert.deepEqual(app.post_logout_redirect_uris, ['https://grafana.example.com/']);
  assert.equal(app.description, 'Dashboards');
  assert.deepEqual(app.icon, { mediaType: 'image/png', base64: PNG.toString('base64') });
  assert.equal(app.active, true);
  const storedHash = () => withDb((db) => db.prepare('SELECT client_secret_hash FROM apps WHERE id = ?').get(app.id)?.['client_secret_hash']);
  assert.equal(storedHash(), hashClientSecret(grafana.client_secret));

  // Human output shows the secret once, with the warning.
  const wikiOut = await ok(['apps', 'create', '--label', 'Wiki', '--redirect-uri', 'https://wiki.example.com/cb', '--icon', join(assets, 'icon.svg'), '--refresh-token-ttl', '3600']);
  const wikiSecret = /^client_secret\s+(\S+)$/m.exec(wikiOut)?.[1] ?? '';
  const wikiClientId = /^client_id\s+(\S+)$/m.exec(wikiOut)?.[1] ?? '';
  assert.match(wikiSecret, /^[A-Za-z0-9_-]{43}$/);
  assert.match(wikiClientId, /^[0-9a-f-]{36}$/);
  assert.match(wikiOut, /^Created app "Wiki" \(id [0-9a-f]{24}\)\./);
  assert.match(wikiOut, /will not be shown again/);
  assert.match(wikiOut, /^discovery\s+http:\/\/localhost:9000\/\.well-known\/openid-configuration$/m);

  const spa = await okJson(['apps', 'create', '--label', 'SPA', '--redirect-uri', 'com.example.app:/callback', '--auth-method', 'none']);
  assert.equal(spa.client_secret, null);
  assert.equal(spa.app.has_client_secret, false);

  // The secret never appears again: not in show, list, or their JSON.
  const [show, showJson, byClientId, byId, list, listJson] = await Promise.all([
    ok(['apps', 'show', 'Grafana']),
    ok(['apps', 'show', 'Grafana', '--json']),
    okJson(['apps', 'show', wikiClientId]),
    okJson(['apps', 'show', app.id], { env: { GATEHOUSE_ISSUER: 'https://id.example.com/' } }),
    ok(['apps', 'list']),
    ok(['apps', 'list', '--json']),
  ]);
  for (const output of [show, showJson, JSON.stringify(byClientId), list, listJson]) {
    assert.equal(output.includes(grafana.client_secret), false);
    assert.equal(output.includes(wikiSecret), false);
    assert.doesNotMatch(output, /"client_secret"|sha256:/);
  }
  assert.equal('client_secret' in JSON.parse(showJson), false);
  assert.match(show, /^client_id\s+[0-9a-f-]{36}$/m);
  assert.match(show, /^client secret\s+set \(shown only once/m);
  assert.match(show, /^redirect URIs\s+https:\/\/grafana\.example\.com\/login\/generic_oauth\n\s+http:\/\/localhost:3000\/cb$/m);
  assert.match(show, /^scopes\s+openid email profile$/m);
  assert.match(show, /^refresh tokens\s+yes \(lifetime 12h\)$/m);
  assert.match(show, /^claims\s+preferred_username <- username\n\s+dept <- attributes\.department\n\s+tenant = "acme=1"$/m);
  assert.match(show, /^issuer\s+http:\/\/localhost:9000$/m);
  assert.match(show, /^discovery\s+http:\/\/localhost:9000\/\.well-known\/openid-configuration$/m);
  assert.equal(byClientId.label, 'Wiki');
  assert.equal(byClientId.icon.mediaType, 'image/svg+xml');
  assert.equal(byClientId.refresh_token_ttl, 3600);
  assert.equal(byId.issuer, 'https://id.example.com');
  assert.equal(byId.discovery_url, 'https://id.example.com/.well-known/openid-configuration');
  assert.match(list, /^LABEL\s+CLIENT ID\s+AUTH METHOD\s+STATUS\s+GROUPS\s+ID$/m);
  assert.match(list, /^SPA\s+[0-9a-f-]{36}\s+none\s+active\s+-\s+[0-9a-f]{24}$/m);

  // A new secret replaces the old one; public clients have none.
  const regenerated = await okJson(['apps', 'regenerate-secret', 'Grafana']);
  assert.match(regenerated.client_secret, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(regenerated.client_secret, grafana.client_secret);
  assert.equal(storedHash(), hashClientSecret(regenerated.client_secret));
  const regeneratedText = await ok(['apps', 'regenerate-secret', wikiClientId]);
  assert.match(regeneratedText, /will not be shown again/);
  assert.notEqual(/^client_secret\s+(\S+)$/m.exec(regeneratedText)?.[1], wikiSecret);
  await refused(['apps', 'regenerate-secret', 'SPA'], 1, /public client/);

  // Bindings.
  assert.match(await ok(['apps', 'bind', 'Grafana', 'Engineering']), /^Bound group Engineering to "Grafana"\. Groups with access: Engineering\.\n$/);
  const bound = await okJson(['apps', 'bind', app.client_id, 'All Users']);
  assert.deepEqual(bound.groups.map((g: { name: string }) => g.name), ['All Users', 'Engineering']);
  assert.match(await ok(['apps', 'show', 'Grafana']), /^groups\s+All Users\n\s+Engineering$/m);
  await ok(['apps', 'unbind', 'Grafana', 'All Users']);
  assert.deepEqual((await okJson(['apps', 'show', 'Grafana'])).groups.map((g: { name: string }) => g.name), ['Engineering']);
  await refused(['apps', 'unbind', 'Grafana', 'All Users'], 1, /"All Users" is not bound to "Grafana"/);

  // Deactivate and activate.
  assert.equal((await okJson(['apps', 'deactivate', 'Grafana'])).active, false);
  assert.match(await ok(['apps', 'show', 'Grafana']), /^status\s+inactive$/m);
  assert.match(await ok(['apps', 'list']), /^Grafana\s+\S+\s+client_secret_post\s+inactive\s+Engineering\s/m);
  assert.match(await ok(['apps', 'activate', 'Grafana']), /^Activated app "Grafana"/);
  assert.equal((await okJson(['apps', 'show', 'Grafana'])).active, true);

  assert.match(await ok(['apps', 'delete', 'Wiki']), /^Deleted app "Wiki"/);
  assert.deepEqual((await okJson(['apps', 'list'])).map((a: { label: string }) => a.label), ['Grafana', 'SPA']);
});

test('keys: list shows current and next; rotate promotes next to current', async () => {
  const [keys, table] = await Promise.all([okJson(['keys', 'list']), ok(['keys', 'list'])]);
  assert.deepEqual(keys.map((k: { state: string }) => k.state), ['current', 'next']);
  assert.match(table, /^STATE\s+KID\s+ALG\s+CREATED\s+RETIRES$/m);
  assert.match(table, /^current\s+\S+\s+RS256\s/m);
  const [current, next] = keys;

  const rotated = await okJson(['keys', 'rotate']);
  const byState = (state: string) => rotated.filter((k: { state: string }) => k.state === state);
  assert.equal(byState('current')[0].kid, next.kid);
  assert.equal(byState('previous')[0].kid, current.kid);
  assert.ok(byState('previous')[0].retire_at);
  assert.equal(byState('next').length, 1);
  assert.ok(![current.kid, next.kid].includes(byState('next')[0].kid));
  assert.match(await ok(['keys', 'rotate']), new RegExp(`^Rotated: ${byState('next')[0].kid} now signs\\.`));
  assert.equal((await okJson(['keys', 'list'])).length, 4);
});

test('bad input is refused with one line on stderr and changes nothing', async () => {
  const assets = tempDir();
  writeFileSync(join(assets, 'icon.gif'), 'GIF89a');
  const snapshot = async () => ({
    users: await ok(['users', 'list', '--json']),
    groups: await ok(['groups', 'list', '--json']),
    apps: await ok(['apps', 'list', '--json']),
  });
  const beforeAll = await snapshot();
  const app = (...extra: string[]) => ['apps', 'create', '--label', 'Bad', '--redirect-uri', 'https://ok.example.com/cb', ...extra];

  await inParallel([
    // Failures (exit 1): the directory refuses.
    () => refused(['users', 'show', 'nobody'], 1, /^gatehouse: No user matches "nobody"\.\n$/),
    () => refused(['users', 'suspend', 'nobody'], 1, /No user matches "nobody"/),
    () => refused(['users', 'delete', 'nobody'], 1, /No user matches "nobody"/),
    () => refused(['users', 'create', '--username', 'alice2', '--email', 'ALICE@example.com'], 1, /^gatehouse: The email ALICE@example\.com is already another user's email or username\.\n$/),
    () => refused(['users', 'create', '--username', 'alice', '--email', 'other@example.com'], 1, /username alice is already another user's username or email/),
    () => refused(['users', 'create', '--username', 'dave', '--email', 'not-an-email'], 1, /is not a valid email address/),
    () => refused(['users', 'create', '--username', 'dave', '--email', 'dave@example.com', '--password-stdin'], 1, /at least 12 characters/, { input: 'short\n' }),
    () => refused(['users', 'create', '--username', 'dave', '--email', 'dave@example.com', '--attribute', '1bad=x'], 1, /not a valid attribute name/),
    () => refused(['users', 'set-password', 'alice', '--password-stdin'], 1, /at least 12 characters/, { input: '\n' }),
    () => refused(['groups', 'create', 'engineering'], 1, /already exists/),
    () => refused(['groups', 'add-member', 'Engineering', 'nobody'], 1, /No user matches "nobody"/),
    () => refused(['groups', 'add-member', 'nogroup', 'alice'], 1, /No group matches "nogroup"/),
    () => refused(['groups', 'remove-member', 'Engineering', 'bob'], 1, /bob is not a member of "Engineering"/),
    () => refused(['groups', 'delete', 'All Users'], 1, /built in/),
    () => refused(['apps', 'show', 'nothing'], 1, /No app matches "nothing"/),
    () => refused(['apps', 'bind', 'Grafana', 'nogroup'], 1, /No group matches "nogroup"/),
    () => refused(['apps', 'create', '--label', 'Bad', '--redirect-uri', 'not a url'], 1, /Redirect URI "not a url" is not an absolute URL/),
    () => refused(['apps', 'create', '--label', 'Bad', '--redirect-uri', '/relative/cb'], 1, /is not an absolute URL/),
    () => refused(app('--redirect-uri', 'https://ok.example.com/cb#frag'), 1, /must not contain a fragment/),
    () => refused(app('--post-logout-redirect-uri', 'nope'), 1, /Post-logout redirect URI "nope" is not an absolute URL/),
    () => refused(app('--login-url', 'nope'), 1, /Login URL "nope" is not an absolute URL/),
    () => refused(app('--map', 'claim=password_hash'), 1, /"password_hash" is not a user field/),
    () => refused(app('--map', 'sub=username'), 1, /set by the protocol/),
    () => refused(app('--map', 'x=attributes.'), 1, /not a valid custom attribute name/),
    () => refused(app('--refresh-token-ttl', '100d'), 1, /between 1 minute and 90 days/),
    () => refused(app('--icon', join(assets, 'missing.png')), 1, /Cannot read the icon file .*missing\.png/),
    // Usage errors (exit 2): the command line or the configuration is wrong.
    () => refused(['users', 'list'], 2, /--issuer \/ GATEHOUSE_ISSUER: "nope" is not an absolute URL/, { env: { GATEHOUSE_ISSUER: 'nope' } }),
    () => refused(['users', 'list'], 2, /GATEHOUSE_DATABASE_URL: must start with postgres:\/\//, { env: { GATEHOUSE_DATABASE_URL: 'mysql://x' } }),
    () => refused([], 2, /missing command/, { dir: null }),
    () => refused(['frobnicate'], 2, /^gatehouse: unknown command "frobnicate" \(see gatehouse --help\)\n$/),
    () => refused(['users'], 2, /missing command: gatehouse users create\|list\|show/, { dir: null }),
    () => refused(['users', 'frobnicate'], 2, /unknown command "users frobnicate"/),
    () => refused(['users', 'list', '--bogus'], 2, /^gatehouse: unknown option --bogus \(see gatehouse users list --help\)\n$/),
    () => refused(['users', 'list', 'extra'], 2, /unexpected argument "extra"/),
    () => refused(['users', 'list', '--json=yes'], 2, /--json takes no value/),
    () => refused(['users', 'show'], 2, /missing argument USER/),
    () => refused(['groups', 'add-member', 'Engineering'], 2, /missing argument USER/),
    () => refused(['users', 'create', '--username', 'dave'], 2, /missing required option --email/),
    () => refused(['users', 'create', '--username', 'dave', '--email'], 2, /--email needs a value/, { dir: null, env: { GATEHOUSE_DATA_DIR: dataDir } }),
    () => refused(['users', 'create', '--username', 'dave', '--email', 'dave@example.com', '--state', 'SUSPENDED'], 2, /--state must be one of STAGED, ACTIVATED/),
    () => refused(['users', 'create', '--username', 'dave', '--email', 'dave@example.com', '--attribute', 'noequals'], 2, /--attribute expects NAME=VALUE/),
    () => refused(['users', 'create', '--username', 'dave', '--email', 'dave@example.com', '--attribute', 'a=1', '--attribute', 'a=2'], 2, /given twice/),
    () => refused(['users', 'set-password', 'alice'], 2, /missing required option --password-stdin/),
    () => refused(['apps', 'create', '--label', 'Bad'], 2, /missing required option --redirect-uri/),
    () => refused(app('--map', 'noequals'), 2, /--map expects CLAIM=FIELD/),
    () => refused(app('--map-constant', '=x'), 2, /--map-constant expects CLAIM=VALUE/),
    () => refused(app('--auth-method', 'private_key_jwt'), 2, /--auth-method must be one of client_secret_basic, client_secret_post, none/),
    () => refused(app('--scope', 'openid'), 2, /--scope must be one of email, profile/),
    () => refused(app('--refresh-token-ttl', '2w'), 2, /--refresh-token-ttl expects a duration/),
    () => refused(app('--icon', join(assets, 'icon.gif')), 2, /--icon takes a \.png or \.svg file/),
    () => refused(['keys', 'rotate', '--force'], 2, /unknown option --force/),
    () => refused(['serve', '--bogus'], 2, /unknown option --bogus/),
  ]);

  assert.deepEqual(await snapshot(), beforeAll);
});

test('help, environment and exit status 0', async () => {
  const fresh = tempDir();
  const [root, group, command, helpWord] = await Promise.all([
    ok(['--help'], { dir: null }),
    ok(['apps', '--help'], { dir: null }),
    ok(['apps', 'create', '--help'], { dir: null }),
    ok(['help'], { dir: null }),
  ]);
  assert.match(root, /^Usage: gatehouse <command> \[options\]$/m);
  assert.match(root, /gatehouse users create/);
  assert.match(root, /gatehouse keys rotate/);
  assert.equal(helpWord, root);
  assert.match(group, /^Usage: gatehouse apps <command> \[options\]$/m);
  assert.match(group, /gatehouse apps bind APP GROUP/);
  assert.match(command, /^Usage: gatehouse apps create --label LABEL --redirect-uri URI \[options\]$/m);
  assert.match(command, /--map CLAIM=FIELD/);
  assert.match(command, /--data-dir DIR/);
  // --help answers without touching the data directory.
  assert.equal(existsSync(join(fresh, 'gatehouse.db')), false);
  await ok(['users', 'show', '--help'], { dir: fresh });
  assert.equal(existsSync(join(fresh, 'gatehouse.db')), false);

  // GATEHOUSE_DATA_DIR stands in for --data-dir, which beats it.
  const viaEnv = await okJson(['users', 'list'], { dir: null, env: { GATEHOUSE_DATA_DIR: dataDir } });
  assert.deepEqual(viaEnv.map((u: { username: string }) => u.username), ['alice', 'bob']);
  // A directory without a Gatehouse database is refused (a typo must not become an empty installation)…
  await refused(['users', 'list'], 2, /no Gatehouse database in .*gatehouse init --data-dir/, { dir: fresh, env: { GATEHOUSE_DATA_DIR: dataDir } });
  assert.equal(existsSync(join(fresh, 'gatehouse.db')), false);
  // …until init makes it one.
  await ok(['init'], { dir: fresh });
  assert.deepEqual(await okJson(['users', 'list'], { dir: fresh, env: { GATEHOUSE_DATA_DIR: dataDir } }), []);
  assert.match(await ok(['users', 'list'], { dir: fresh }), /^No users yet\. Create one with: gatehouse users create/);
});

test('serve prints where it listens and stops cleanly on SIGTERM', { timeout: 30_000 }, async () => {
  const fresh = tempDir();
  if (!existsSync(SERVER)) {
    // The HTTP layer is not there yet: serve says so plainly, and the other commands don't mind.
    await refused(['serve', '--port', '0'], 1, /HTTP server is not part of this installation/, { dir: fresh });
    return;
  }
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', fresh], { env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  while (!/No users yet.*\n/.test(stdout) && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    // Matched as a line: the HTTP layer's own request log may share stdout.
    assert.match(stdout, /^Gatehouse listening on http:\/\/127\.0\.0\.1:\d+ \(issuer http:\/\/localhost:9000\)$/m, stderr);
    assert.match(stdout, /^Admin console: http:\/\/localhost:9000\/admin\/$/m);
    assert.match(stdout, /No users yet: create the first one with gatehouse users create .*--data-dir /);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});
