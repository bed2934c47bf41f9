/**
 * `gatehouse apps update APP` (issue 11 §3), end to end with the real bin/gatehouse.js on both
 * databases: only the options given change (every field PATCH /api/apps/{id} takes, and the icon),
 * the --no-… options clear or turn off, the app is printed as `apps show` prints it, and each change
 * is in the audit log as app.update with the fields it changed. Refusals are one line and change
 * nothing: exit 2 for bad usage (contradicting options, nothing to change), 1 for the directory's
 * refusals (an unknown app, a bad URL).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '../../../src/directory/audit.ts';
import { DATABASE_KINDS, freshConfig } from '../../helpers/databases.ts';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==', 'base64');
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const tempDirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-update-'));
  tempDirs.push(dir);
  return dir;
};
const assets = tempDir();
const icons = { png: join(assets, 'icon.png'), svg: join(assets, 'icon.svg'), gif: join(assets, 'icon.gif'), missing: join(assets, 'missing.png') };
/** The developer's GATEHOUSE_* variables stay out; the children share a compile cache. */
const baseEnv: Record<string, string> = {};
before(() => {
  writeFileSync(icons.png, PNG);
  writeFileSync(icons.svg, SVG);
  writeFileSync(icons.gif, 'GIF89a');
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && value !== undefined) baseEnv[key] = value;
  baseEnv['NODE_COMPILE_CACHE'] = tempDir();
});
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[], env: Record<string, string>): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { env: { ...baseEnv, ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end('');
  });
}

// biome-ignore lint/suspicious/noExplicitAny: parsed command output, checked field by field
type Json = any;

/** The fields of an app that `--json` prints, less the ones named. */
const without = (app: Record<string, unknown>, ...names: string[]) => Object.fromEntries(Object.entries(app).filter(([name]) => !names.includes(name)));

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`apps update (${kind})`, { skip }, () => {
    let dataDir = '';
    let env: Record<string, string> = {};
    let cleanup: (() => Promise<void>) | undefined;
    let wiki: { id: string; client_id: string } = { id: '', client_id: '' };
    /** Successful updates so far, with the fields each changed, to compare with the audit log. */
    const updates: string[][] = [];

    const gh = (args: string[]) => run([...args, '--data-dir', dataDir], env);
    const ok = async (args: string[]): Promise<string> => {
      const result = await gh(args);
      assert.equal(result.code, 0, `gatehouse ${args.join(' ')} failed: ${result.stderr}`);
      assert.equal(result.stderr, '', `gatehouse ${args.join(' ')} wrote to stderr`);
      return result.stdout;
    };
    const okJson = async (args: string[]): Promise<Json> => JSON.parse(await ok([...args, '--json']));
    const refused = async (args: string[], code: 1 | 2, pattern: RegExp): Promise<void> => {
      const result = await gh(args);
      assert.equal(result.code, code, `gatehouse ${args.join(' ')}: exit ${result.code}, ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^gatehouse: [^\n]+\n$/);
      assert.match(result.stderr, pattern);
    };

    before(async () => {
      const fresh = await freshConfig(kind);
      cleanup = fresh.cleanup;
      dataDir = fresh.config.dataDir;
      env = fresh.config.databaseUrl ? { GATEHOUSE_DATABASE_URL: fresh.config.databaseUrl } : {};
      await ok(['init']);
      const created = await okJson([
        'apps', 'create', '--label', 'Wiki', '--redirect-uri', 'https://wiki.example.com/cb', '--login-url', 'https://wiki.example.com/login',
        '--scope', 'email', '--refresh-token', '--map', 'name=displayname', '--groups-claim', 'groups', '--icon', icons.svg,
      ]);
      wiki = created.app;
      await ok(['groups', 'create', 'Staff']);
      await ok(['apps', 'bind', 'Wiki', 'Staff']);
    });
    after(() => cleanup?.());

    test('only the options given change; the app is printed as apps show prints it, with the issuer', async () => {
      const before = await okJson(['apps', 'show', 'Wiki']);
      const updated = await okJson(['apps', 'update', 'Wiki', '--description', 'Team wiki', '--no-send-iss']);
      updates.push(['description', 'send_iss_on_launch']);
      assert.equal(updated.description, 'Team wiki');
      assert.equal(updated.send_iss_on_launch, false);
      assert.deepEqual(without(updated, 'description', 'send_iss_on_launch', 'updated'), without(before, 'description', 'send_iss_on_launch', 'updated'), 'nothing else changed');
      assert.deepEqual(updated.groups.map((g: { name: string }) => g.name), ['Staff']);
      assert.equal(updated.discovery_url, `${updated.issuer}/.well-known/openid-configuration`);
      assert.deepEqual(await okJson(['apps', 'show', 'Wiki']), updated, 'stored as printed');

      // By client_id, as text: a headline naming what changed, then exactly what apps show prints.
      const text = await ok(['apps', 'update', wiki.client_id, '--label', 'Team Wiki']);
      updates.push(['label']);
      const shown = await ok(['apps', 'show', wiki.id]);
      assert.equal(text, `Updated app "Team Wiki" (id ${wiki.id}): label.\n${shown}`);
      assert.match(shown, /^label\s+Team Wiki$/m);
      assert.match(shown, /^description\s+Team wiki$/m);
      assert.match(shown, /^launch sends iss\s+no$/m);

      // --issuer names the issuer printed, as for apps show.
      const elsewhere = await ok(['apps', 'update', wiki.id, '--send-iss', '--issuer', 'https://id.example.com']);
      updates.push(['send_iss_on_launch']);
      assert.match(elsewhere, /^issuer\s+https:\/\/id\.example\.com$/m);
      assert.match(elsewhere, /^discovery\s+https:\/\/id\.example\.com\/\.well-known\/openid-configuration$/m);
      assert.match(elsewhere, /^launch sends iss\s+yes$/m);
    });

    test('every setting PATCH /api/apps/{id} takes, and the icon; the --no-… options clear them', async () => {
      const all = await okJson([
        'apps', 'update', wiki.id,
        '--redirect-uri', 'https://wiki.example.com/a', '--redirect-uri', 'https://wiki.example.com/b',
        '--post-logout-redirect-uri', 'https://wiki.example.com/bye',
        '--login-url', 'https://wiki.example.com/start',
        '--auth-method', 'client_secret_post',
        '--scope', 'profile',
        '--refresh-token-ttl', '12h', '--refresh-token-reuse-interval', '10s',
        '--map', 'given=firstname', '--map-constant', 'tenant=acme',
        '--groups-claim', 'roles',
        '--icon', icons.png,
        '--no-show-in-portal',
      ]);
      updates.push([
        'redirect_uris', 'post_logout_redirect_uris', 'login_url', 'auth_method', 'scopes', 'refresh_token_ttl', 'refresh_token_reuse_interval',
        'attribute_mapping', 'groups_claim', 'icon', 'show_in_portal',
      ]);
      assert.deepEqual(
        {
          redirect_uris: all.redirect_uris,
          post_logout_redirect_uris: all.post_logout_redirect_uris,
          login_url: all.login_url,
          auth_method: all.auth_method,
          has_client_secret: all.has_client_secret,
          scopes: all.scopes,
          refresh_token: all.refresh_token,
          refresh_token_ttl: all.refresh_token_ttl,
          refresh_token_reuse_interval: all.refresh_token_reuse_interval,
          attribute_mapping: all.attribute_mapping,
          groups_claim: all.groups_claim,
          icon: all.icon,
          show_in_portal: all.show_in_portal,
          label: all.label,
        },
        {
          redirect_uris: ['https://wiki.example.com/a', 'https://wiki.example.com/b'],
          post_logout_redirect_uris: ['https://wiki.example.com/bye'],
          login_url: 'https://wiki.example.com/start',
          auth_method: 'client_secret_post',
          has_client_secret: true,
          scopes: ['profile'],
          refresh_token: true,
          refresh_token_ttl: 12 * 3600,
          refresh_token_reuse_interval: 10,
          attribute_mapping: [
            { claim: 'given', source: 'field', field: 'firstname' },
            { claim: 'tenant', source: 'constant', value: 'acme' },
          ],
          groups_claim: 'roles',
          icon: { mediaType: 'image/png', base64: PNG.toString('base64') },
          show_in_portal: false,
          label: 'Team Wiki',
        },
      );

      const cleared = await okJson([
        'apps', 'update', wiki.id, '--no-login-url', '--no-post-logout-redirect-uri', '--no-scope', '--no-map', '--no-groups-claim', '--no-icon', '--no-refresh-token',
        '--description', '',
      ]);
      updates.push(['description', 'post_logout_redirect_uris', 'login_url', 'refresh_token', 'scopes', 'attribute_mapping', 'groups_claim', 'icon']);
      assert.deepEqual(
        without(cleared, 'updated'),
        without(
          { ...all, description: '', login_url: null, post_logout_redirect_uris: [], scopes: [], attribute_mapping: [], groups_claim: null, icon: null, refresh_token: false },
          'updated',
        ),
      );
      const shown = await ok(['apps', 'show', wiki.id]);
      for (const [label, value] of [['description', '-'], ['login URL', '-'], ['post-logout URIs', '-'], ['scopes', 'openid'], ['refresh tokens', 'no'], ['claims', '-'], ['groups claim', '-'], ['icon', '-']]) {
        assert.match(shown, new RegExp(`^${label}\\s+${value}$`, 'm'));
      }

      // A public client has no secret; back to a confidential one, the app is told how to get one.
      const spa = await okJson(['apps', 'update', wiki.id, '--auth-method', 'none']);
      updates.push(['auth_method']);
      assert.equal(spa.auth_method, 'none');
      assert.equal(spa.has_client_secret, false);
      const confidential = await ok(['apps', 'update', wiki.id, '--auth-method', 'client_secret_basic']);
      updates.push(['auth_method']);
      assert.match(confidential, /^auth method\s+client_secret_basic$/m);
      assert.match(confidential, new RegExp(`no client secret.*gatehouse apps regenerate-secret ${wiki.client_id} --data-dir`));
      assert.match(await ok(['apps', 'regenerate-secret', wiki.id]), /^client_secret\s+\S{20,}$/m);

      // A Login URL given to an app kept out of the portal says how to show it.
      const relaunched = await ok(['apps', 'update', wiki.id, '--login-url', 'https://wiki.example.com/start']);
      updates.push(['login_url']);
      assert.match(relaunched, /^user portal\s+hidden$/m);
      assert.match(relaunched, new RegExp(`gatehouse apps update ${wiki.client_id} --show-in-portal`));

      // Plain http to another host is accepted with a warning on stderr, as by apps create.
      const plain = await gh(['apps', 'update', wiki.id, '--redirect-uri', 'http://wiki.internal/cb', '--json']);
      updates.push(['redirect_uris']);
      assert.equal(plain.code, 0, plain.stderr);
      assert.deepEqual(JSON.parse(plain.stdout).redirect_uris, ['http://wiki.internal/cb']);
      assert.match(plain.stderr, /^gatehouse: warning: redirect URI http:\/\/wiki\.internal\/cb is plain http/);
    });

    test('refusals: one line, nothing changed; the directory refuses with 1, bad usage exits 2', async () => {
      const before = await okJson(['apps', 'show', wiki.id]);
      const id = wiki.id;
      await Promise.all([
        refused(['apps', 'update', 'nothing', '--label', 'X'], 1, /No app matches "nothing"/),
        refused(['apps', 'update', id, '--redirect-uri', 'not a url'], 1, /Redirect URI "not a url" is not an absolute URL/),
        refused(['apps', 'update', id, '--login-url', '/start'], 1, /Login URL "\/start" is not an absolute URL/),
        refused(['apps', 'update', id, '--post-logout-redirect-uri', 'https://wiki.example.com/#bye'], 1, /must not contain a fragment/),
        refused(['apps', 'update', id, '--label', ' '], 1, /A display label has 1-128 characters/),
        refused(['apps', 'update', id, '--map', 'sub=email'], 1, /The claim "sub" is set by the protocol/),
        refused(['apps', 'update', id, '--description', 'two\nlines'], 1, /control characters/),
        refused(['apps', 'update', id, '--refresh-token-reuse-interval', '61s'], 1, /reuse interval is a whole number of seconds from 0 to 60/),
        refused(['apps', 'update', id, '--icon', icons.missing], 1, /Cannot read the icon file/),
      ]);
      // Usage errors never reach the database: checked once, on SQLite.
      if (kind === 'sqlite') {
        const contradictions: [string[], string][] = [
          [['--login-url', 'https://wiki.example.com/x', '--no-login-url'], '--login-url and --no-login-url'],
          [['--show-in-portal', '--no-show-in-portal'], '--show-in-portal and --no-show-in-portal'],
          [['--send-iss', '--no-send-iss'], '--send-iss and --no-send-iss'],
          [['--refresh-token', '--no-refresh-token'], '--refresh-token and --no-refresh-token'],
          [['--scope', 'email', '--no-scope'], '--scope and --no-scope'],
          [['--map-constant', 'a=b', '--no-map'], '--map-constant and --no-map'],
          [['--groups-claim', 'g', '--no-groups-claim'], '--groups-claim and --no-groups-claim'],
          [['--icon', icons.png, '--no-icon'], '--icon and --no-icon'],
          [['--post-logout-redirect-uri', 'https://wiki.example.com/bye', '--no-post-logout-redirect-uri'], '--post-logout-redirect-uri and --no-post-logout-redirect-uri'],
        ];
        await Promise.all([
          ...contradictions.map(([flags, pair]) => refused(['apps', 'update', id, ...flags], 2, new RegExp(`${pair} contradict each other`))),
          refused(['apps', 'update', id], 2, /nothing to change: give at least one option/),
          refused(['apps', 'update', id, '--issuer', 'https://id.example.com', '--json'], 2, /nothing to change/),
          refused(['apps', 'update', 'nothing'], 2, /nothing to change/),
          refused(['apps', 'update', '--label', 'X'], 2, /missing argument APP/),
          refused(['apps', 'update', id, '--scope', 'offline_access'], 2, /--scope must be one of email, profile/),
          refused(['apps', 'update', id, '--auth-method', 'private_key_jwt'], 2, /--auth-method must be one of client_secret_basic, client_secret_post, none/),
          refused(['apps', 'update', id, '--refresh-token-ttl', 'soon'], 2, /--refresh-token-ttl expects a duration/),
          refused(['apps', 'update', id, '--map', 'novalue'], 2, /--map expects CLAIM=FIELD/),
          refused(['apps', 'update', id, '--icon', icons.gif], 2, /--icon takes a \.png or \.svg file/),
          refused(['apps', 'update', id, '--no-login-url=yes'], 2, /--no-login-url takes no value/),
          refused(['apps', 'update', id, '--client-secret', 'x'], 2, /unknown option --client-secret/),
        ]);
      }
      assert.deepEqual(await okJson(['apps', 'show', wiki.id]), before, 'nothing changed');
    });

    test('each update is audited as app.update with the fields it changed; refusals by the directory as failures', async () => {
      const log = await okJson(['audit', 'list', '--action', 'app.update', '--limit', '1000']);
      const events = (log.data as AuditEvent[]).slice().reverse();
      for (const event of events) assert.equal(event.actor.type, 'cli');
      const succeeded = events.filter((e) => e.outcome === 'success');
      assert.deepEqual(
        succeeded.map((e) => (e.details['fields'] as string[]).slice().sort()),
        updates.map((fields) => fields.slice().sort()),
      );
      for (const event of succeeded) assert.deepEqual({ type: event.target?.type, id: event.target?.id }, { type: 'app', id: wiki.id });
      assert.deepEqual(
        succeeded.slice(0, 2).map((e) => e.target?.name),
        ['Wiki', 'Team Wiki'],
        'named as the app is labelled after the change',
      );
      const failed = events.filter((e) => e.outcome === 'failure');
      assert.deepEqual(
        failed.map((e) => String(e.details['code'])).sort(),
        ['app.invalid_description', 'app.invalid_label', 'app.invalid_refresh_token_reuse_interval', 'app.invalid_uri', 'app.invalid_uri', 'app.invalid_uri', 'app.not_found', 'app.reserved_claim'],
        'usage errors and an unreadable icon file never reach the directory',
      );
      assert.deepEqual(failed.find((e) => e.details['code'] === 'app.not_found')?.target, { type: 'app', id: 'nothing', name: null });
      // The icon itself is not in the log, only that it changed.
      assert.equal(JSON.stringify(log).includes(PNG.toString('base64')), false);
    });
  });
}

test('apps update --help lists every option, the clearing ones included; apps --help lists the command', async () => {
  const [group, command] = await Promise.all([run(['apps', '--help'], {}), run(['apps', 'update', '--help'], {})]);
  assert.equal(command.code, 0, command.stderr);
  assert.match(group.stdout, /^ {2}gatehouse apps update APP\s+Change an app/m);
  assert.match(command.stdout, /^Usage: gatehouse apps update APP \[options\]$/m);
  for (const option of [
    'label LABEL', 'description TEXT', 'redirect-uri URI', 'post-logout-redirect-uri URI', 'no-post-logout-redirect-uri', 'login-url URL', 'no-login-url',
    'show-in-portal', 'no-show-in-portal', 'send-iss', 'no-send-iss', 'auth-method METHOD', 'scope email|profile', 'no-scope', 'refresh-token', 'no-refresh-token',
    'refresh-token-ttl DURATION', 'refresh-token-reuse-interval DURATION', 'map CLAIM=FIELD', 'map-constant CLAIM=VALUE', 'no-map', 'groups-claim NAME',
    'no-groups-claim', 'icon FILE.png|FILE.svg', 'no-icon', 'issuer URL',
  ]) {
    assert.match(command.stdout, new RegExp(`^ {2}--${option.replace(/[|.]/g, '\\$&')}\\s`, 'm'), `--${option}`);
  }
  assert.doesNotMatch(command.stdout, /required/, 'no option is required');
});
