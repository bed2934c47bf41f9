/**
 * Replays of the request sequences Microsoft documents for Entra ID's provisioning service
 * ("Develop and plan provisioning for a SCIM endpoint": user and group operations, and the
 * aadOptscim062020 PATCH behaviour), over real HTTP on both databases, asserting the answers
 * Entra expects. Bodies are Microsoft's examples with their identifiers.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { ENTERPRISE, GROUP, LIST, PATCH_OP, USER, assertScimError, assertScimJson, filterQuery, scim, scimKey } from './support.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`SCIM: Entra ID's documented sequences (${kind})`, { skip }, () => {
    let gh: TestGatehouse;
    let key: string;
    const entra = (method: string, path: string, body?: unknown) => scim(gh, method, path, body, { key });

    before(async () => {
      gh = await startGatehouse(kind);
      key = (await scimKey(gh)).key;
    });
    after(() => gh?.close());

    test('Test Connection: random lookups of a user and a group that do not exist answer an empty ListResponse, not 404', async () => {
      const users = await entra('GET', `/Users?${filterQuery(`userName eq "${randomUUID()}"`)}`);
      assertScimJson(users, 200);
      assert.deepEqual(users.body, { schemas: [LIST], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
      const groups = await entra('GET', `/Groups?excludedAttributes=members&${filterQuery(`displayName eq "${randomUUID()}"`)}`);
      assertScimJson(groups, 200);
      assert.equal(groups.body.totalResults, 0);
      assert.deepEqual(groups.body.Resources, []);
      // Microsoft's own example of a lookup with no match.
      const none = await entra('GET', `/Users?${filterQuery('userName eq "non-existent user"')}`);
      assert.equal(none.body.totalResults, 0);
      // The validator sends spaces as "+".
      const plus = await entra('GET', `/Users?filter=userName+eq+"${randomUUID()}%40example.com"`);
      assertScimJson(plus, 200);
      assert.equal(plus.body.totalResults, 0);
    });

    test('user lifecycle without the flag: create, get, filter, PATCH (multi- and single-valued), disable with "False", delete', async () => {
      const userName = `Test_User_${randomUUID()}`;
      const email = `Test_User_${randomUUID()}@testuser.com`;
      const externalId = randomUUID();
      const created = await entra('POST', '/Users', {
        schemas: [USER, ENTERPRISE],
        externalId,
        userName,
        active: true,
        emails: [{ primary: true, type: 'work', value: email }],
        meta: { resourceType: 'User' },
        name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
        roles: [],
      });
      assertScimJson(created, 201);
      const id = created.body.id;
      assert.match(id, /^[0-9a-f]{24}$/);
      assert.equal(created.headers.get('location'), `${gh.issuer}/scim/v2/Users/${id}`);
      assert.deepEqual(created.body.schemas, [USER]);
      assert.equal(created.body.userName, userName);
      assert.equal(created.body.externalId, externalId);
      assert.equal(created.body.active, true);
      assert.deepEqual(created.body.emails, [{ value: email, type: 'work', primary: true }]);
      assert.deepEqual(created.body.name, { formatted: 'givenName familyName', givenName: 'givenName', familyName: 'familyName' });
      assert.equal(created.body.meta.resourceType, 'User');
      assert.equal(created.body.meta.location, `${gh.issuer}/scim/v2/Users/${id}`);
      assert.ok(created.body.meta.created && created.body.meta.lastModified);

      // The directory holds the person: no password (their identity provider signs them in), no role.
      const stored = await gh.directory.users.get(id);
      assert.equal(stored.username, userName);
      assert.equal(stored.email, email);
      assert.equal(stored.firstname, 'givenName');
      assert.equal(stored.lastname, 'familyName');
      assert.equal(stored.state, 'ACTIVATED');
      assert.equal(stored.has_password, false);
      assert.equal(stored.role, null);

      // The same userName again: 409 uniqueness, as Entra expects of a duplicate.
      assertScimError(await entra('POST', '/Users', { schemas: [USER], userName, emails: [{ primary: true, type: 'work', value: `other-${email}` }] }), 409, 'uniqueness');

      const got = await entra('GET', `/Users/${id}`);
      assertScimJson(got, 200);
      assert.deepEqual(got.body, created.body);

      for (const filter of [`userName eq "${userName}"`, `userName eq "${userName.toUpperCase()}"`, `externalId eq "${externalId}"`, `emails[type eq "work"].value eq "${email}"`]) {
        const found = await entra('GET', `/Users?${filterQuery(filter)}`);
        assertScimJson(found, 200);
        assert.equal(found.body.totalResults, 1, filter);
        assert.equal(found.body.Resources[0].id, id, filter);
      }
      // externalId is case-exact (RFC 7643 §3.1).
      assert.equal((await entra('GET', `/Users?${filterQuery(`externalId eq "${externalId.toUpperCase()}"`)}`)).body.totalResults, 0);

      // Update User [Multi-valued properties].
      const multi = await entra('PATCH', `/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
          { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
        ],
      });
      assertScimJson(multi, 200);
      assert.deepEqual(multi.body.emails, [{ value: 'updatedEmail@microsoft.com', type: 'work', primary: true }]);
      assert.equal(multi.body.name.familyName, 'updatedFamilyName');
      assert.equal((await gh.directory.users.get(id)).email, 'updatedEmail@microsoft.com');

      // Update User [Single-valued properties].
      const newName = `${randomUUID()}@testuser.com`;
      const single = await entra('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'userName', value: newName }] });
      assertScimJson(single, 200);
      assert.equal(single.body.userName, newName);

      // Disable User, in the older dialect: "Replace" and the string "False".
      const disabled = await entra('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
      assertScimJson(disabled, 200);
      assert.equal(disabled.body.active, false);
      assert.equal((await gh.directory.users.get(id)).state, 'SUSPENDED');
      // A disabled user is still there for GET and for a filter, with active false.
      assert.equal((await entra('GET', `/Users/${id}`)).body.active, false);
      const filtered = await entra('GET', `/Users?${filterQuery(`userName eq "${newName}"`)}`);
      assert.equal(filtered.body.totalResults, 1);
      assert.equal(filtered.body.Resources[0].active, false);
      // Enabled again with "True".
      const enabled = await entra('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'active', value: 'True' }] });
      assert.equal(enabled.body.active, true);
      assert.equal((await gh.directory.users.get(id)).state, 'ACTIVATED');

      // Delete User: 204, then 404.
      const deleted = await entra('DELETE', `/Users/${id}`);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, '');
      assertScimError(await entra('GET', `/Users/${id}`), 404);
      assertScimError(await entra('DELETE', `/Users/${id}`), 404);
      assert.equal(await gh.directory.users.byId(id), undefined);
    });

    test('user PATCH with ?aadOptscim062020: lowercase ops, booleans, one replace whose value keys are dotted paths', async () => {
      const userName = `flag-${randomUUID()}@contoso.com`;
      const created = await entra('POST', '/Users', {
        schemas: [USER, ENTERPRISE],
        externalId: randomUUID(),
        userName,
        active: true,
        displayName: 'Ellen Reckert',
        emails: [{ primary: true, type: 'work', value: userName }],
        name: { givenName: 'Ellen', familyName: 'Reckert' },
        [ENTERPRISE]: { employeeNumber: '100009', department: 'Human Resources US' },
      });
      assertScimJson(created, 201);
      const id = created.body.id;
      assert.deepEqual(created.body.schemas, [USER, ENTERPRISE]);
      assert.deepEqual(created.body[ENTERPRISE], { employeeNumber: '100009', department: 'Human Resources US' });
      assert.deepEqual((await gh.directory.users.get(id)).attributes, { employeeNumber: '100009', department: 'Human Resources US' });

      const manager = (await entra('POST', '/Users', { schemas: [USER], userName: `manager-${randomUUID()}@contoso.com`, emails: [{ primary: true, type: 'work', value: `m-${randomUUID()}@contoso.com` }] })).body.id;
      const patched = await entra('PATCH', `/Users/${id}`, {
        schemas: [PATCH_OP],
        Operations: [
          { op: 'replace', value: { 'name.givenName': 'Ellie', 'name.familyName': 'Reckert-Smith', displayName: 'Ellie R', active: false } },
          { op: 'replace', path: `${ENTERPRISE}:department`, value: 'Finance' },
          { op: 'add', path: `${ENTERPRISE}:manager`, value: { value: manager } },
        ],
      });
      assertScimJson(patched, 200);
      assert.equal(patched.body.name.givenName, 'Ellie');
      assert.equal(patched.body.name.familyName, 'Reckert-Smith');
      assert.equal(patched.body.displayName, 'Ellie R');
      assert.equal(patched.body.active, false);
      assert.equal(patched.body[ENTERPRISE].department, 'Finance');
      assert.equal(patched.body[ENTERPRISE].manager.value, manager);
      const stored = await gh.directory.users.get(id);
      assert.equal(stored.firstname, 'Ellie');
      assert.equal(stored.state, 'SUSPENDED');
      assert.deepEqual(stored.attributes, { employeeNumber: '100009', department: 'Finance', manager });

      // The tenant URL's ?aadOptscim062020 may travel with each request: it changes nothing here.
      const back = await entra('PATCH', `/Users/${id}?aadOptscim062020`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }, { op: 'remove', path: `${ENTERPRISE}:manager` }] });
      assertScimJson(back, 200);
      assert.equal(back.body.active, true);
      assert.equal(back.body[ENTERPRISE].manager, undefined);
      assert.deepEqual((await gh.directory.users.get(id)).attributes, { employeeNumber: '100009', department: 'Finance' });
    });

    test('group lifecycle without the flag: create, get without members, filter by displayName, rename, add and remove members by value arrays, delete', async () => {
      const alice = (await entra('POST', '/Users', { schemas: [USER], userName: `alice-${randomUUID()}@contoso.com`, emails: [{ primary: true, type: 'work', value: `alice-${randomUUID()}@contoso.com` }] })).body;
      const bob = (await entra('POST', '/Users', { schemas: [USER], userName: `bob-${randomUUID()}@contoso.com`, emails: [{ primary: true, type: 'work', value: `bob-${randomUUID()}@contoso.com` }] })).body;
      const displayName = `displayName-${randomUUID()}`;
      const externalId = randomUUID();
      const created = await entra('POST', '/Groups', {
        schemas: [GROUP, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
        externalId,
        displayName,
        meta: { resourceType: 'Group' },
      });
      assertScimJson(created, 201);
      const id = created.body.id;
      assert.deepEqual(created.body.schemas, [GROUP]);
      assert.equal(created.body.displayName, displayName);
      assert.equal(created.body.externalId, externalId);
      assert.deepEqual(created.body.members, []);
      assert.equal(created.body.meta.resourceType, 'Group');
      assert.equal(created.headers.get('location'), `${gh.issuer}/scim/v2/Groups/${id}`);
      assert.equal((await gh.directory.groups.get(id)).name, displayName);

      assertScimError(await entra('POST', '/Groups', { schemas: [GROUP], displayName }), 409, 'uniqueness');

      const got = await entra('GET', `/Groups/${id}?excludedAttributes=members`);
      assertScimJson(got, 200);
      assert.equal(got.body.displayName, displayName);
      assert.equal('members' in got.body, false);

      const found = await entra('GET', `/Groups?excludedAttributes=members&${filterQuery(`displayName eq "${displayName}"`)}`);
      assert.equal(found.body.totalResults, 1);
      assert.equal(found.body.Resources[0].id, id);
      assert.equal('members' in found.body.Resources[0], false);

      const renamed = `${randomUUID()}updatedDisplayName`;
      const rename = await entra('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Replace', path: 'displayName', value: renamed }] });
      assert.equal(rename.status, 204, rename.text);
      assert.equal((await gh.directory.groups.get(id)).name, renamed);

      const add = await entra('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: alice.id }, { $ref: null, value: bob.id }] }] });
      assert.equal(add.status, 204, add.text);
      assert.deepEqual((await gh.directory.groups.memberIds(id)).sort(), [alice.id, bob.id].sort());
      const withMembers = await entra('GET', `/Groups/${id}`);
      assert.deepEqual(
        withMembers.body.members.map((m: { value: string }) => m.value).sort(),
        [alice.id, bob.id].sort(),
      );
      assert.equal(withMembers.body.members.find((m: { value: string }) => m.value === alice.id).display, alice.userName);

      const remove = await entra('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: alice.id }] }] });
      assert.equal(remove.status, 204, remove.text);
      assert.deepEqual(await gh.directory.groups.memberIds(id), [bob.id]);

      const deleted = await entra('DELETE', `/Groups/${id}`);
      assert.equal(deleted.status, 204);
      assertScimError(await entra('GET', `/Groups/${id}`), 404);
      // The users stay.
      assert.ok(await gh.directory.users.byId(alice.id));
    });

    test('group PATCH with ?aadOptscim062020: lowercase add, remove by members[value eq "…"], replace with a value object', async () => {
      const carol = (await entra('POST', '/Users', { schemas: [USER], userName: `carol-${randomUUID()}@contoso.com`, emails: [{ primary: true, type: 'work', value: `carol-${randomUUID()}@contoso.com` }] })).body;
      const dave = (await entra('POST', '/Users', { schemas: [USER], userName: `dave-${randomUUID()}@contoso.com`, emails: [{ primary: true, type: 'work', value: `dave-${randomUUID()}@contoso.com` }] })).body;
      const created = await entra('POST', '/Groups', { schemas: [GROUP], displayName: `flag-${randomUUID()}`, members: [{ value: carol.id }] });
      assertScimJson(created, 201);
      const id = created.body.id;
      assert.deepEqual(created.body.members.map((m: { value: string }) => m.value), [carol.id]);

      const add = await entra('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: dave.id }] }] });
      assert.equal(add.status, 204, add.text);
      assert.deepEqual((await gh.directory.groups.memberIds(id)).sort(), [carol.id, dave.id].sort());

      const remove = await entra('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'remove', path: `members[value eq "${carol.id}"]` }] });
      assert.equal(remove.status, 204, remove.text);
      assert.deepEqual(await gh.directory.groups.memberIds(id), [dave.id]);

      const externalId = randomUUID();
      const replace = await entra('PATCH', `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { displayName: 'Flag Group Renamed', externalId } }] });
      assert.equal(replace.status, 204, replace.text);
      const group = await entra('GET', `/Groups?${filterQuery(`externalId eq "${externalId}"`)}`);
      assert.equal(group.body.totalResults, 1);
      assert.equal(group.body.Resources[0].displayName, 'Flag Group Renamed');
      // Membership by filter, as some clients check it.
      const member = await entra('GET', `/Groups?aadOptscim062020&excludedAttributes=members&${filterQuery(`id eq "${id}" and members.value eq "${dave.id}"`)}`);
      assert.equal(member.body.totalResults, 1);
      const notMember = await entra('GET', `/Groups?excludedAttributes=members&${filterQuery(`id eq "${id}" and members.value eq "${carol.id}"`)}`);
      assert.equal(notMember.body.totalResults, 0);
    });
  });
}
