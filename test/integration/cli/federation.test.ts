/**
 * The federation commands, end to end on both databases: gatehouse idps create|list|show|update|
 * test|delete, routing-policies create|list|update|delete, users identities and users unlink, and
 * users set-password refused for a routed user. Each test spawns the real bin/gatehouse.js against
 * the database of a running server (whose own discovery document the connection test reads).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const SECRET = 'cli-secret-never-printed-Qx7';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const tempDirs: string[] = [];
const baseEnv: Record<string, string> = {};
before(() => {
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && value !== undefined) baseEnv[key] = value;
  const cache = mkdtempSync(join(tmpdir(), 'gatehouse-cli-federation-'));
  tempDirs.push(cache);
  baseEnv['NODE_COMPILE_CACHE'] = cache;
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

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`command line federation (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let env: Record<string, string>;
    let dataDir: string;
    const gh = (args: string[], input?: string) => run([...args, '--data-dir', dataDir], env, input);
    const ok = async (args: string[], input?: string): Promise<string> => {
      const result = await gh(args, input);
      assert.equal(result.code, 0, `gatehouse ${args.join(' ')} failed: ${result.stderr}`);
      assert.equal(result.stderr, '', `gatehouse ${args.join(' ')} wrote to stderr`);
      assert.ok(!result.stdout.includes(SECRET), `gatehouse ${args.join(' ')} printed the secret`);
      return result.stdout;
    };
    // biome-ignore lint/suspicious/noExplicitAny: parsed command output, checked field by field
    const okJson = async <T = any>(args: string[], input?: string): Promise<T> => JSON.parse(await ok([...args, '--json'], input)) as T;
    const refused = async (args: string[], code: 1 | 2, pattern: RegExp, input?: string): Promise<void> => {
      const result = await gh(args, input);
      assert.equal(result.code, code, `gatehouse ${args.join(' ')}: exit ${result.code}, ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^gatehouse: [^\n]+\n$/);
      assert.match(result.stderr, pattern);
      assert.ok(!result.stderr.includes(SECRET));
    };

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { config } = gatehouse.runtime;
      dataDir = config.dataDir;
      // The server records its issuer on start only when run by `gatehouse serve`: name it here.
      env = { GATEHOUSE_ISSUER: gatehouse.issuer, ...(config.databaseUrl ? { GATEHOUSE_DATABASE_URL: config.databaseUrl } : {}) };
    });
    after(() => gatehouse?.close());

    test('idps: create (secret from stdin, callback URL printed), list, show, update, delete; the secret is never shown', async () => {
      const created = await ok(
        ['idps', 'create', '--name', 'Entra ID', '--type', 'entra', '--url', `https://login.microsoftonline.com/${TENANT}`, '--client-id', 'app-1', '--client-secret-stdin'],
        `${SECRET}\n`,
      );
      assert.match(created, /^Created identity provider Entra ID \(id [0-9a-f]{24}\)\.$/m);
      assert.ok(created.includes(`${gatehouse.issuer}/oauth/callback`), created);
      const provider = await gatehouse.directory.identityProviders.get('entra id');
      assert.equal(provider.client_auth, 'client_secret_post');
      // Sealed by the command line with the installation's secret: the server reads it back.
      assert.equal((await gatehouse.directory.identityProviders.upstream(provider.id)).clientSecret, SECRET);

      const list = await ok(['idps', 'list']);
      assert.match(list.split('\n')[0] ?? '', /^NAME\s+TYPE\s+ENABLED\s+ISSUER\s+DOMAIN RULES\s+ID$/);
      assert.match(list, new RegExp(`^Entra ID\\s+entra\\s+yes\\s+https://login\\.microsoftonline\\.com/${TENANT}/v2\\.0\\s+-\\s+${provider.id}$`, 'm'));

      const shown = await ok(['idps', 'show', 'ENTRA ID']);
      assert.match(shown, /^client secret\s+set \(never shown\)$/m);
      assert.match(shown, new RegExp(`^callback url\\s+${gatehouse.issuer.replace(/[.]/g, '\\.')}/oauth/callback$`, 'm'));
      const json = await okJson(['idps', 'show', provider.id]);
      assert.equal(json.callback_url, `${gatehouse.issuer}/oauth/callback`);
      assert.ok(!('client_secret' in json));

      const newSecret = `${SECRET}-2`;
      assert.match(
        await ok(['idps', 'update', 'Entra ID', '--disable', '--home-realm-domains', 'Contoso.com, fabrikam.com', '--first-login', 'create', '--client-secret-stdin'], newSecret),
        /^Updated identity provider Entra ID\.$/m,
      );
      const updated = await gatehouse.directory.identityProviders.get(provider.id);
      assert.equal(updated.enabled, false);
      assert.deepEqual(updated.home_realm_domains, ['contoso.com', 'fabrikam.com']);
      assert.equal(updated.first_login, 'create');
      assert.equal((await gatehouse.directory.identityProviders.upstream(provider.id)).clientSecret, newSecret);
      await ok(['idps', 'update', provider.id, '--enable', '--home-realm-domains', '']);
      assert.deepEqual((await gatehouse.directory.identityProviders.get(provider.id)).home_realm_domains, []);

      // Audited under the API's action names, never with the secret.
      const events = (await gatehouse.directory.audit.list({ action: 'identity_provider.*', limit: 100 })).events.filter((e) => e.target?.id === provider.id);
      assert.deepEqual(events.map((e) => `${e.actor.type} ${e.action}`).sort(), ['cli identity_provider.create', 'cli identity_provider.update', 'cli identity_provider.update']);
      assert.ok(!JSON.stringify(events).includes(SECRET));

      assert.match(await ok(['idps', 'delete', 'entra id']), /^Deleted identity provider Entra ID\.$/m);
      await refused(['idps', 'show', provider.id], 1, /No identity_provider matches/);
    });

    test('idps: bad input is refused with one line (usage: exit 2; rules: exit 1) and creates nothing', async () => {
      const base = ['idps', 'create', '--name', 'Bad', '--type', 'entra', '--client-id', 'x', '--client-secret-stdin'];
      await refused([...base, '--url', 'https://login.microsoftonline.com/common'], 1, /allowed_tenants|tenant ids/, SECRET);
      await refused([...base, '--url', 'https://login.microsoftonline.com/consumers'], 1, /consumers/, SECRET);
      await refused([...base, '--url', `http://login.microsoftonline.com/${TENANT}`], 1, /https/, SECRET);
      await refused(['idps', 'create', '--name', 'Bad', '--type', 'entra', '--client-id', 'x', '--url', `https://login.microsoftonline.com/${TENANT}`], 2, /client secret is required/);
      await refused([...base, '--url', `https://login.microsoftonline.com/${TENANT}`], 2, /empty/, '\n');
      await refused(['idps', 'create', '--name', 'Bad', '--type', 'saml', '--client-id', 'x', '--client-secret-stdin'], 2, /--type must be one of entra, oidc/, SECRET);
      await refused(['idps', 'create', '--name', 'Bad', '--type', 'oidc', '--client-id', 'x', '--client-secret', SECRET], 2, /unknown option --client-secret/);
      await refused(['idps', 'update', 'nobody', '--enable', '--disable'], 2, /cannot be given together/);
      await refused(['idps', 'update', 'nobody'], 2, /nothing to change/);
      assert.deepEqual((await gatehouse.directory.identityProviders.list()).filter((p) => p.name === 'Bad'), []);
    });

    test('idps test reads the provider’s discovery document and keys', async () => {
      await ok(['idps', 'create', '--name', 'Self', '--type', 'oidc', '--issuer-url', gatehouse.issuer, '--client-id', 'self', '--client-secret-stdin'], SECRET);
      const text = await ok(['idps', 'test', 'Self']);
      assert.match(text, /^Connection OK\.$/m);
      assert.match(text, new RegExp(`^discovery\\s+${gatehouse.issuer.replace(/[.]/g, '\\.')}/\\.well-known/openid-configuration$`, 'm'));
      const result = await okJson(['idps', 'test', 'Self']);
      assert.equal(result.ok, true);
      assert.equal(result.issuer, gatehouse.issuer);
      assert.ok(result.keys >= 1);
      await ok(['idps', 'delete', 'Self']);
    });

    test('routing policies, a user’s identities and unlink; a routed user’s password cannot be set', async () => {
      await ok(['idps', 'create', '--name', 'Corp', '--type', 'entra', '--url', `https://login.microsoftonline.com/${TENANT}`, '--client-id', 'corp', '--client-secret-stdin'], SECRET);
      await ok(['groups', 'create', 'Corp people']);
      await ok(['users', 'create', '--username', 'carol', '--email', 'carol@corp.example', '--password-stdin'], 'a-long-enough-password');
      await ok(['groups', 'add-member', 'Corp people', 'carol']);
      assert.match(await ok(['users', 'identities', 'carol']), /^carol signs in with their Gatehouse password\.\nNo linked identities\.$/m);

      const created = await ok(['routing-policies', 'create', '--name', 'Corp to Entra', '--idp', 'Corp', '--group', 'Corp people', '--priority', '5']);
      assert.match(created, /^Created routing policy Corp to Entra \(id [0-9a-f]{24}\): members of Corp people sign in with Corp\.$/m);
      const list = await ok(['routing-policies', 'list']);
      assert.match(list, /^PRIORITY\s+NAME\s+ENABLED\s+IDENTITY PROVIDER\s+GROUPS\s+ID$/m);
      assert.match(list, /^5\s+Corp to Entra\s+yes\s+Corp\s+Corp people\s+[0-9a-f]{24}$/m);
      await refused(['routing-policies', 'create', '--name', 'corp to entra', '--idp', 'Corp', '--group', 'Corp people'], 1, /already exists/);
      await refused(['routing-policies', 'create', '--name', 'X', '--idp', 'Corp'], 2, /missing required option --group/);
      await refused(['routing-policies', 'create', '--name', 'X', '--idp', 'Corp', '--group', 'nope'], 1, /No group matches "nope"/);
      await refused(['routing-policies', 'update', 'Corp to Entra', '--priority', 'first'], 2, /--priority expects a whole number/);
      await refused(['idps', 'delete', 'Corp'], 1, /Corp to Entra/);

      // Carol is routed: her password is managed by Corp.
      const carol = await gatehouse.directory.users.get('carol');
      const link = await gatehouse.directory.identityLinks.create({ user_id: carol.id, identity_provider_id: (await gatehouse.directory.identityProviders.get('Corp')).id, issuer: TENANT, subject: 'carol-oid', email: 'carol@corp.example' });
      const identities = await ok(['users', 'identities', 'carol@corp.example']);
      assert.match(identities, /^carol signs in with Corp \(password externally managed\)\.$/m);
      assert.match(identities, new RegExp(`^${link.id}\\s+Corp\\s+${TENANT}\\s+carol-oid\\s+carol@corp\\.example\\s+never$`, 'm'));
      const json = await okJson(['users', 'identities', 'carol']);
      assert.equal(json.externally_managed_password, true);
      assert.deepEqual(json.data.map((l: { id: string }) => l.id), [link.id]);
      await refused(['users', 'set-password', 'carol', '--password-stdin'], 1, /signs in with "Corp"/, 'another-long-password');

      await ok(['routing-policies', 'update', 'Corp to Entra', '--disable']);
      assert.match(await ok(['users', 'identities', 'carol']), /with their Gatehouse password/);
      await ok(['users', 'set-password', 'carol', '--password-stdin'], 'another-long-password');
      await ok(['routing-policies', 'update', 'Corp to Entra', '--enable', '--name', 'Corp SSO']);

      await refused(['users', 'unlink', 'carol', 'nope'], 1, /No identity_link matches/);
      assert.match(await ok(['users', 'unlink', 'carol', link.id]), /^Unlinked Corp identity carol-oid from carol\.$/m);
      assert.equal((await gatehouse.directory.identityLinks.listForUser(carol.id)).length, 0);
      const unlinked = (await gatehouse.directory.audit.list({ action: 'federation.unlink' })).events;
      assert.ok(unlinked.some((e) => e.actor.type === 'cli' && e.target?.id === carol.id && e.details.link_id === link.id));

      assert.match(await ok(['routing-policies', 'delete', 'corp sso']), /^Deleted routing policy Corp SSO\.$/m);
      await ok(['idps', 'delete', 'Corp']);
    });

    test('the commands are listed in the help', async () => {
      const help = (await run(['--help'], env)).stdout;
      for (const command of ['idps create', 'idps test', 'routing-policies create', 'users identities USER', 'users unlink USER LINK']) assert.ok(help.includes(command), command);
    });
  });
}
