/**
 * A first provisioning cycle's load, on both databases: 1,000 users created over SCIM, several
 * requests at a time as Entra sends them, then all put in one group with one PATCH. Nothing is
 * lost, nothing doubled, every answer a success.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { GROUP, PATCH_OP, USER, assertScimJson, filterQuery, scim, scimKey } from './support.ts';

const USERS = 1000;
const IN_FLIGHT = 8;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`SCIM: 1,000 users in one run (${kind})`, { skip }, () => {
    let gh: TestGatehouse;
    let key: string;

    before(async () => {
      gh = await startGatehouse(kind);
      key = (await scimKey(gh)).key;
    });
    after(() => gh?.close());

    test('every user is created once, findable, and joins the group', async () => {
      const failures: string[] = [];
      const created = new Map<string, string>();
      let next = 0;
      async function worker() {
        while (next < USERS) {
          const n = next++;
          const userName = `bulk.${String(n).padStart(4, '0')}@contoso.com`;
          const response = await scim(gh, 'POST', '/Users', {
            schemas: [USER],
            externalId: `entra-${n}`,
            userName,
            active: true,
            emails: [{ primary: true, type: 'work', value: userName }],
            name: { givenName: `Given${n}`, familyName: `Family${n}` },
          }, { key });
          if (response.status !== 201) failures.push(`${userName}: ${response.status} ${response.text}`);
          else created.set(response.body.externalId, response.body.id);
        }
      }
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
      assert.deepEqual(failures, []);
      assert.equal(created.size, USERS);

      const listed = await scim(gh, 'GET', `/Users?${filterQuery('userName sw "bulk."')}&count=1000&attributes=externalId`, undefined, { key });
      assertScimJson(listed, 200);
      assert.equal(listed.body.totalResults, USERS);
      assert.equal(listed.body.Resources.length, USERS);
      for (const resource of listed.body.Resources) assert.equal(created.get(resource.externalId), resource.id);
      const stored = (await gh.directory.users.list()).filter((u) => u.username.startsWith('bulk.'));
      assert.equal(stored.length, USERS);
      assert.equal(new Set(stored.map((u) => u.id)).size, USERS);
      assert.ok(stored.every((u) => u.state === 'ACTIVATED' && !u.has_password && u.role === null));

      const group = await scim(gh, 'POST', '/Groups', { schemas: [GROUP], displayName: 'All provisioned' }, { key });
      assertScimJson(group, 201);
      const patched = await scim(gh, 'PATCH', `/Groups/${group.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [...created.values()].map((value) => ({ value })) }] }, { key });
      assert.equal(patched.status, 204, patched.text);
      assert.equal((await gh.directory.groups.memberIds(group.body.id)).length, USERS);
      const { events } = await gh.directory.audit.list({ action: 'user.create', limit: 2000 });
      assert.equal(events.filter((e) => e.outcome === 'success' && e.target?.name?.startsWith('bulk.')).length, USERS);
    });
  });
}
