/**
 * Who may provision, on both databases: SCIM answers only API keys of scope scim, and those keys
 * answer nowhere else; keys are created through the API and the command line like every key; every
 * change is audited with the key as actor in the change's own transaction; SCIM never grants a
 * role, never sets a password, never touches the built-in All Users group nor an administrator
 * above the key's owner.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { recordIssuer } from '../../../src/cli/issuer.ts';
import { ALL_USERS_GROUP } from '../../../src/storage/migrations/001_initial.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { GROUP, PATCH_OP, USER, assertScimError, assertScimJson, filterQuery, scim, scimKey } from './support.ts';

const BIN = fileURLToPath(new URL('../../../bin/gatehouse.js', import.meta.url));

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => !k.startsWith('GATEHOUSE_') && v !== undefined)) as Record<string, string>;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

const newUser = (prefix = 'u') => {
  const name = `${prefix}-${randomUUID()}@contoso.com`;
  return { schemas: [USER], userName: name, emails: [{ primary: true, type: 'work', value: name }] };
};

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`SCIM: keys, scopes, audit and what SCIM never touches (${kind})`, { skip }, () => {
    let gh: TestGatehouse;
    let provisioner: Awaited<ReturnType<typeof scimKey>>;

    before(async () => {
      gh = await startGatehouse(kind);
      provisioner = await scimKey(gh, 'manager');
    });
    after(() => gh?.close());

    test('a scim key is refused on /api, an ordinary key (or none, or a revoked one) under /scim/v2', async () => {
      for (const path of ['/api/users', '/api/me', '/api/groups']) {
        const byHeader = await call(gh, 'GET', path, undefined, { key: provisioner.key });
        assert.equal(byHeader.status, 403, `${path}: ${byHeader.text}`);
        assert.equal(byHeader.body.code, 'auth.forbidden');
        const byBearer = await call(gh, 'GET', path, undefined, { key: provisioner.key, bearer: true });
        assert.equal(byBearer.status, 403, path);
      }
      assert.equal((await call(gh, 'POST', '/api/users', { username: 'sneaky', email: 'sneaky@example.com' }, { key: provisioner.key })).status, 403);
      assert.equal((await gh.directory.users.list()).some((u) => u.username === 'sneaky'), false);

      const ordinary = await adminKey(gh, 'administrator');
      for (const [method, path] of [['GET', '/Users'], ['POST', '/Users'], ['GET', '/Groups'], ['DELETE', `/Users/${ordinary.user.id}`]] as const) {
        const refused = await scim(gh, method, path, method === 'POST' ? newUser() : undefined, { key: ordinary.key });
        assertScimError(refused, 403);
      }
      assert.ok(await gh.directory.users.byId(ordinary.user.id));

      const anonymous = await scim(gh, 'GET', '/Users');
      assertScimError(anonymous, 401);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer/);
      assertScimError(await scim(gh, 'GET', '/Users', undefined, { key: 'gh_not-a-real-key' }), 401);
      assertScimError(await scim(gh, 'GET', '/Users', undefined, { key: 'an-opaque-token' }), 401);

      const revoked = await scimKey(gh);
      await gh.directory.apiKeys.revoke(revoked.apiKey.id);
      assertScimError(await scim(gh, 'GET', '/Users', undefined, { key: revoked.key }), 401);

      // Discovery describes only the service: no key needed.
      assertScimJson(await scim(gh, 'GET', '/ServiceProviderConfig'), 200);
    });

    test('a scim key needs an owner who may change users and groups; losing that role stops it', async () => {
      const helpDesk = await adminKey(gh, 'help_desk');
      await assert.rejects(gh.directory.apiKeys.create({ owner: helpDesk.user.id, name: 'scim', scope: 'scim' }), { code: 'api_key.scope_exceeds_role' });
      const viaApi = await call(gh, 'POST', '/api/api-keys', { name: 'entra', scope: 'scim' }, { key: helpDesk.key });
      assert.equal(viaApi.status, 400, viaApi.text);
      assert.equal(viaApi.body.code, 'api_key.scope_exceeds_role');

      const demoted = await scimKey(gh, 'manager');
      assertScimJson(await scim(gh, 'GET', '/Users', undefined, { key: demoted.key }), 200);
      await gh.directory.users.setRole(demoted.user.id, 'help_desk');
      // setRole to a lesser role keeps keys; the role no longer allows provisioning.
      assertScimError(await scim(gh, 'GET', '/Users', undefined, { key: demoted.key }), 403);
    });

    test('POST /api/api-keys creates a scim key with the SCIM base URL; it provisions, and is audited as created', async () => {
      const admin = await adminKey(gh, 'administrator');
      const created = await call(gh, 'POST', '/api/api-keys', { name: 'Entra ID provisioning', scope: 'scim' }, { key: admin.key });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.api_key.scope, 'scim');
      assert.equal(created.body.scim_base_url, `${gh.issuer}/scim/v2`);
      assert.match(created.body.key, /^gh_/);
      const ordinary = await call(gh, 'POST', '/api/api-keys', { name: 'terraform', scope: 'read_write' }, { key: admin.key });
      assert.equal(ordinary.body.scim_base_url, undefined);
      const listed = await call(gh, 'GET', '/api/api-keys', undefined, { key: admin.key });
      assert.equal(listed.body.find((k: { id: string }) => k.id === created.body.api_key.id).scope, 'scim');
      const provisioned = await scim(gh, 'POST', '/Users', newUser('via-api-key'), { key: created.body.key });
      assertScimJson(provisioned, 201);
    });

    test('gatehouse api-keys create --scim prints the key and the SCIM base URL; --scim with --read-only is a usage error', async () => {
      const { config } = gh.runtime;
      // No GATEHOUSE_ISSUER here: the base URL is the issuer the server runs with, as `serve` records it.
      await recordIssuer(gh.runtime);
      const env: Record<string, string> = config.databaseUrl ? { GATEHOUSE_DATABASE_URL: config.databaseUrl } : {};
      const owner = await adminKey(gh, 'manager');
      const made = await cli(['api-keys', 'create', '--owner', owner.user.username, '--name', 'okta', '--scim', '--json', '--data-dir', config.dataDir], env);
      assert.equal(made.code, 0, made.stderr);
      const output = JSON.parse(made.stdout);
      assert.equal(output.api_key.scope, 'scim');
      assert.equal(output.scim_base_url, `${gh.issuer}/scim/v2`);
      assertScimJson(await scim(gh, 'GET', '/Users?count=1', undefined, { key: output.key }), 200);
      const text = await cli(['api-keys', 'create', '--owner', owner.user.username, '--name', 'okta 2', '--scim', '--data-dir', config.dataDir], env);
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, new RegExp(`SCIM base URL  ${gh.issuer.replace(/[.]/g, '\\.')}/scim/v2`));
      const both = await cli(['api-keys', 'create', '--owner', owner.user.username, '--name', 'x', '--scim', '--read-only', '--data-dir', config.dataDir], env);
      assert.equal(both.code, 2);
      assert.match(both.stderr, /^gatehouse: [^\n]*--scim[^\n]*\n$/);
    });

    test('every change is audited with the key as actor, in the same transaction; a refused change leaves nothing and a failure', async () => {
      const key = provisioner.key;
      const user = (await scim(gh, 'POST', '/Users', newUser('audited'), { key })).body;
      await scim(gh, 'PATCH', `/Users/${user.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Audited' }] }, { key });
      await scim(gh, 'PATCH', `/Users/${user.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }, { key });
      const group = (await scim(gh, 'POST', '/Groups', { schemas: [GROUP], displayName: `audited-${randomUUID()}`, members: [{ value: user.id }] }, { key })).body;
      await scim(gh, 'PATCH', `/Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${user.id}"]` }] }, { key });
      await scim(gh, 'DELETE', `/Groups/${group.id}`, undefined, { key });
      await scim(gh, 'DELETE', `/Users/${user.id}`, undefined, { key });

      const { events } = await gh.directory.audit.list({ actor: provisioner.apiKey.id, limit: 1000 });
      const seen = (action: string, target: string) => events.find((e) => e.action === action && e.target?.id === target && e.outcome === 'success');
      for (const [action, target] of [
        ['user.create', user.id],
        ['user.update', user.id],
        ['user.suspend', user.id],
        ['group.create', group.id],
        ['group.add_member', group.id],
        ['group.remove_member', group.id],
        ['group.delete', group.id],
        ['user.delete', user.id],
      ] as const) {
        const event = seen(action, target);
        assert.ok(event, `${action} audited`);
        assert.deepEqual(event.actor, { type: 'api_key', id: provisioner.apiKey.id, name: provisioner.actorName });
        assert.equal(event.details.via, 'scim');
      }
      assert.deepEqual(seen('user.update', user.id)?.details.fields, ['displayname']);

      // A group whose second member does not exist: nothing is created, not even the group, and the refusal is recorded.
      const member = (await scim(gh, 'POST', '/Users', newUser('member'), { key })).body;
      const displayName = `half-${randomUUID()}`;
      const refused = await scim(gh, 'POST', '/Groups', { schemas: [GROUP], displayName, members: [{ value: member.id }, { value: '0123456789abcdef01234567' }] }, { key });
      assertScimError(refused, 400, 'invalidValue');
      assert.equal((await scim(gh, 'GET', `/Groups?${filterQuery(`displayName eq "${displayName}"`)}`, undefined, { key })).body.totalResults, 0);
      assert.equal((await gh.directory.groups.list()).some((g) => g.name === displayName), false);
      const failures = await gh.directory.audit.list({ actor: provisioner.apiKey.id, action: 'group.create' });
      const failure = failures.events.find((e) => e.outcome === 'failure' && e.target?.name === displayName);
      assert.deepEqual(failure?.details, { code: 'scim.invalidValue', via: 'scim' });
      assert.equal(failure?.actor.id, provisioner.apiKey.id);
      assert.equal(failures.events.some((e) => e.outcome === 'success' && e.target?.name === displayName), false);
    });

    test('roles are never granted, passwords never set, administrators above the owner untouchable, the owner not removable', async () => {
      const key = provisioner.key;
      const withRoles = await scim(gh, 'POST', '/Users', { ...newUser('roles'), password: 'a-password-from-entra-123', roles: [{ value: 'administrator', primary: true }] }, { key });
      assertScimJson(withRoles, 201);
      const stored = await gh.directory.users.get(withRoles.body.id);
      assert.equal(stored.role, null);
      assert.equal(stored.has_password, false);
      assert.equal('password' in withRoles.body, false);
      const patched = await scim(gh, 'PATCH', `/Users/${stored.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'roles', value: [{ value: 'administrator_with_billing' }] }, { op: 'replace', path: 'password', value: 'another-password-456' }] }, { key });
      assertScimJson(patched, 200);
      const after = await gh.directory.users.get(stored.id);
      assert.equal(after.role, null);
      assert.equal(after.has_password, false);

      // The key's owner is a manager: an administrator is out of reach, to change, suspend or delete.
      const boss = await adminKey(gh, 'administrator');
      assertScimError(await scim(gh, 'PATCH', `/Users/${boss.user.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }, { key }), 403);
      assertScimError(await scim(gh, 'PATCH', `/Users/${boss.user.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Pwned' }] }, { key }), 403);
      assertScimError(await scim(gh, 'DELETE', `/Users/${boss.user.id}`, undefined, { key }), 403);
      await gh.directory.users.suspend(boss.user.id);
      assertScimError(await scim(gh, 'PATCH', `/Users/${boss.user.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }] }, { key }), 403);
      assert.equal((await gh.directory.users.get(boss.user.id)).state, 'SUSPENDED');
      await gh.directory.users.activate(boss.user.id);
      const bossNow = await gh.directory.users.get(boss.user.id);
      assert.equal(bossNow.state, 'ACTIVATED');
      assert.equal(bossNow.role, 'administrator');
      assert.equal(bossNow.displayname, '');
      // Its own owner: not suspended nor deleted through the key.
      assertScimError(await scim(gh, 'DELETE', `/Users/${provisioner.user.id}`, undefined, { key }), 400, 'mutability');
      assertScimError(await scim(gh, 'PATCH', `/Users/${provisioner.user.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] }, { key }), 400, 'mutability');
      assert.equal((await gh.directory.users.get(provisioner.user.id)).state, 'ACTIVATED');

      // The same names sent again, padded, are no change: no audit event.
      const padded = await scim(gh, 'POST', '/Users', { ...newUser('padded'), name: { givenName: 'Pad' }, displayName: 'Padded' }, { key });
      const updatesBefore = (await gh.directory.audit.list({ action: 'user.update', target: padded.body.id })).total;
      const again = await scim(gh, 'PATCH', `/Users/${padded.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { 'name.givenName': ' Pad ', displayName: 'Padded ' } }] }, { key });
      assertScimJson(again, 200);
      assert.equal((await gh.directory.audit.list({ action: 'user.update', target: padded.body.id })).total, updatesBefore);
    });

    test('the built-in All Users group is never shown to SCIM nor changed by it', async () => {
      const key = provisioner.key;
      const allUsers = await gh.directory.groups.get(ALL_USERS_GROUP.name);
      const listed = await scim(gh, 'GET', '/Groups?count=1000&excludedAttributes=members', undefined, { key });
      assert.equal(listed.body.Resources.some((g: { id: string }) => g.id === allUsers.id), false);
      assert.equal((await scim(gh, 'GET', `/Groups?${filterQuery(`displayName eq "${ALL_USERS_GROUP.name}"`)}`, undefined, { key })).body.totalResults, 0);
      assertScimError(await scim(gh, 'GET', `/Groups/${allUsers.id}`, undefined, { key }), 404);
      assertScimError(await scim(gh, 'PUT', `/Groups/${allUsers.id}`, { schemas: [GROUP], displayName: 'Everyone' }, { key }), 404);
      assertScimError(await scim(gh, 'PATCH', `/Groups/${allUsers.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'Everyone' }] }, { key }), 404);
      assertScimError(await scim(gh, 'DELETE', `/Groups/${allUsers.id}`, undefined, { key }), 404);
      assertScimError(await scim(gh, 'POST', '/Groups', { schemas: [GROUP], displayName: 'all users' }, { key }), 409, 'uniqueness');
      const still = await gh.directory.groups.get(allUsers.id);
      assert.equal(still.name, ALL_USERS_GROUP.name);
      assert.equal(still.builtin, true);
    });
  });
}
