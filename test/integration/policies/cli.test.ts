/**
 * gatehouse policies list|show|create|update|move|delete, end to end on both databases: the real
 * bin/gatehouse.js against the database of a running server; exit 2 on bad usage, 1 on a refusal,
 * one line on stderr; changes audited.
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

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const tempDirs: string[] = [];
const baseEnv: Record<string, string> = {};
before(() => {
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('GATEHOUSE_') && value !== undefined) baseEnv[key] = value;
  const cache = mkdtempSync(join(tmpdir(), 'gatehouse-cli-policies-'));
  tempDirs.push(cache);
  baseEnv['NODE_COMPILE_CACHE'] = cache;
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

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`gatehouse policies (${kind})`, { skip }, () => {
    let gatehouse: TestGatehouse;
    let env: Record<string, string>;
    let dataDir: string;
    const gh = (args: string[]) => run([...args, '--data-dir', dataDir], env);
    const ok = async (args: string[]): Promise<string> => {
      const result = await gh(args);
      assert.equal(result.code, 0, `gatehouse ${args.join(' ')} failed: ${result.stderr}`);
      assert.equal(result.stderr, '');
      return result.stdout;
    };
    // biome-ignore lint/suspicious/noExplicitAny: parsed command output, checked field by field
    const okJson = async <T = any>(args: string[]): Promise<T> => JSON.parse(await ok([...args, '--json'])) as T;
    const refused = async (args: string[], code: 1 | 2, pattern: RegExp) => {
      const result = await gh(args);
      assert.equal(result.code, code, `gatehouse ${args.join(' ')}: exit ${result.code}, ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^gatehouse: [^\n]+\n$/);
      assert.match(result.stderr, pattern);
    };

    before(async () => {
      gatehouse = await startGatehouse(kind);
      const { config } = gatehouse.runtime;
      dataDir = config.dataDir;
      env = { GATEHOUSE_ISSUER: gatehouse.issuer, ...(config.databaseUrl ? { GATEHOUSE_DATABASE_URL: config.databaseUrl } : {}) };
      await gatehouse.directory.groups.create('finance');
      await gatehouse.directory.apps.create({ label: 'Payroll', redirect_uris: ['https://payroll.example/cb'] });
    });
    after(() => gatehouse?.close());

    test('create, list, show, update, move and delete', async () => {
      const empty = await ok(['policies', 'list']);
      assert.match(empty, /Default policy/);
      const portal = await okJson(['policies', 'create', '--name', 'No portal after Entra', '--resource', 'portal', '--sign-in', 'federated', '--action', 'deny']);
      assert.equal(portal.position, 1);
      assert.equal(portal.sign_in, 'federated');
      const mfa = await okJson(['policies', 'create', '--name', 'Finance MFA', '--resource', 'apps', '--app', 'Payroll', '--group', 'finance', '--address-not-in', '10.0.0.0/8', '--address-not-in', '2001:db8::/32', '--action', 'require_mfa', '--grace-days', '14']);
      assert.deepEqual(mfa.addresses_not_in, ['10.0.0.0/8', '2001:db8::/32']);
      assert.equal(mfa.grace_days, 14);
      assert.equal(mfa.user_groups[0].name, 'finance');

      const list = await ok(['policies', 'list']);
      assert.match(list, /1\s+No portal after Entra/);
      assert.match(list, /2\s+Finance MFA/);
      assert.match(await ok(['policies', 'show', 'finance mfa']), /grace days\s+14/);

      const updated = await okJson(['policies', 'update', 'Finance MFA', '--disable', '--everyone']);
      assert.equal(updated.enabled, false);
      assert.equal(updated.users, 'all');
      const moved = await okJson(['policies', 'move', 'Finance MFA', '1']);
      assert.deepEqual(moved.map((p: { name: string }) => p.name), ['Finance MFA', 'No portal after Entra']);
      assert.match(await ok(['policies', 'delete', 'No portal after Entra']), /Deleted access policy No portal after Entra/);
      assert.equal((await okJson(['policies', 'list'])).total, 1);

      const actions = (await gatehouse.directory.audit.list({ limit: 20, offset: 0 })).events.map((e) => e.action);
      for (const action of ['access_policy.create', 'access_policy.update', 'access_policy.reorder', 'access_policy.delete']) assert.ok(actions.includes(action), action);
      await ok(['policies', 'delete', 'Finance MFA']);
    });

    test('refusals: usage is exit 2, a refused change exit 1, one line each', async () => {
      await refused(['policies', 'create', '--name', 'x', '--action', 'deny'], 2, /--resource/);
      await refused(['policies', 'create', '--name', 'x', '--resource', 'portal', '--action', 'deny', '--grace-days', 'soon'], 2, /--grace-days/);
      await refused(['policies', 'update', 'x'], 2, /nothing to change/);
      await refused(['policies', 'move', 'x', 'first'], 2, /POSITION/);
      await refused(['policies', 'create', '--name', 'x', '--resource', 'portal', '--action', 'block'], 1, /action/);
      await refused(['policies', 'create', '--name', 'x', '--resource', 'portal', '--action', 'deny', '--address-in', '10.0.0.0/40'], 1, /CIDR/);
      await refused(['policies', 'show', 'nope'], 1, /No access_policy matches/);
      await ok(['policies', 'create', '--name', 'Once', '--resource', 'portal', '--action', 'allow']);
      await refused(['policies', 'create', '--name', 'ONCE', '--resource', 'portal', '--action', 'allow'], 1, /already exists/);
      await refused(['policies', 'move', 'Once', '5'], 1, /position/);
      await ok(['policies', 'delete', 'once']);
    });
  });
}
