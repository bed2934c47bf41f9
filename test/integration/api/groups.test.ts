/**
 * The groups routes of the directory REST API, over real HTTP on both databases: CRUD, membership,
 * bound apps, paging, validation, permissions, and the audit event each write leaves.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ALL_USERS_GROUP } from '../../../src/storage/migrations/001_initial.ts';
import { adminKey, call } from '../../helpers/api.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';

let serial = 0;
const unique = (prefix: string) => `${prefix}-${++serial}-${Date.now().toString(36)}`;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`groups API (${kind})`, { skip }, () => {
    let gh: TestGatehouse;
    let manager: string;
    let reader: string;
    let readOnlyScope: string;
    let helpDesk: string;
    let managerName: string;

    // biome-ignore lint/suspicious/noExplicitAny: response bodies of every shape
    const api = (method: string, path: string, body?: unknown, key: string | undefined = manager) => call<any>(gh, method, path, body, { key });

    /** The newest successful audit event with this action that names `targetId` as its target. */
    async function auditFor(action: string, targetId: string) {
      const { events } = await gh.directory.audit.list({ action, target: targetId });
      const event = events.find((e) => e.outcome === 'success');
      assert.ok(event, `an audit event ${action} for ${targetId}`);
      return event;
    }

    function assertError(response: { status: number; body: { code?: string } }, status: number, code?: string) {
      assert.equal(response.status, status, JSON.stringify(response.body));
      if (code) assert.equal(response.body.code, code);
    }

    before(async () => {
      gh = await startGatehouse(kind);
      const m = await adminKey(gh, 'manager');
      manager = m.key;
      managerName = `${m.user.username}/${m.apiKey.name}`;
      reader = (await adminKey(gh, 'read_only')).key;
      readOnlyScope = (await adminKey(gh, 'administrator', { scope: 'read_only' })).key;
      helpDesk = (await adminKey(gh, 'help_desk')).key;
      for (const name of ['alice', 'bob', 'carol', 'dave']) await gh.directory.users.create({ username: name, email: `${name}@example.com` });
    });
    after(() => gh?.close());

    test('create, get by id or name, list; the change is audited with its target and actor', async () => {
      const name = unique('Engineering');
      const created = await api('POST', '/api/groups', { name, description: 'Builds things' });
      assert.equal(created.status, 201, created.text);
      assert.match(created.body.id, /^[0-9a-f]{24}$/);
      assert.equal(created.body.name, name);
      assert.equal(created.body.description, 'Builds things');
      assert.equal(created.body.builtin, false);

      for (const ref of [created.body.id, name, name.toUpperCase()]) {
        const got = await api('GET', `/api/groups/${encodeURIComponent(ref)}`, undefined, reader);
        assert.equal(got.status, 200, got.text);
        assert.deepEqual(got.body, created.body);
      }

      const list = await api('GET', '/api/groups?limit=1000', undefined, reader);
      assert.equal(list.status, 200);
      assert.equal(list.body.limit, 1000);
      assert.equal(list.body.offset, 0);
      const names = list.body.data.map((g: { name: string }) => g.name);
      assert.ok(names.includes(name));
      assert.ok(names.includes(ALL_USERS_GROUP.name), 'the built-in group is listed');
      assert.equal(list.body.total, list.body.data.length);

      const event = await auditFor('group.create', created.body.id);
      assert.equal(event.outcome, 'success');
      assert.deepEqual(event.target, { type: 'group', id: created.body.id, name });
      assert.equal(event.actor.type, 'api_key');
      assert.equal(event.actor.name, managerName);
    });

    test('validation: unknown and missing fields, bad values, and taken names', async () => {
      const unknown = await api('POST', '/api/groups', { name: unique('g'), colour: 'blue' });
      assertError(unknown, 400, 'request.invalid');
      assert.ok(unknown.body.details.some((d: { path: string }) => d.path === 'colour'), JSON.stringify(unknown.body.details));

      const missing = await api('POST', '/api/groups', { description: 'no name' });
      assertError(missing, 400, 'request.invalid');
      assert.ok(missing.body.details.some((d: { path: string }) => d.path === 'name'), JSON.stringify(missing.body.details));

      assertError(await api('POST', '/api/groups', { name: '' }), 400);
      assertError(await api('POST', '/api/groups', { name: '   ' }), 400, 'group.invalid_name');
      assertError(await api('POST', '/api/groups', { name: 'x'.repeat(129) }), 400);
      assertError(await api('POST', '/api/groups', { name: unique('g'), description: 'x'.repeat(1025) }), 400);
      assertError(await api('POST', '/api/groups', [1, 2]), 400);

      const name = unique('Sales');
      assert.equal((await api('POST', '/api/groups', { name })).status, 201);
      const duplicate = await api('POST', '/api/groups', { name: name.toLowerCase() });
      assertError(duplicate, 409, 'group.name_taken');
      assertError(await api('POST', '/api/groups', { name: ALL_USERS_GROUP.name }), 409, 'group.name_taken');
      // A refused change is audited too, as a failure with its code.
      const { events } = await gh.directory.audit.list({ action: 'group.create', target: name.toLowerCase() });
      assert.equal(events[0]?.outcome, 'failure');
      assert.deepEqual(events[0]?.details, { code: 'group.name_taken' });

      const badQuery = await api('GET', '/api/groups?sort=name', undefined, reader);
      assertError(badQuery, 400, 'request.invalid');
      assert.ok(badQuery.body.details.some((d: { path: string }) => d.path === 'querystring.sort'));
    });

    test('rename and change the description; taken names and the built-in group are refused', async () => {
      const original = (await api('POST', '/api/groups', { name: unique('Ops') })).body;
      const newName = unique('Operations');
      const renamed = await api('PATCH', `/api/groups/${original.id}`, { name: newName, description: 'Keeps things running' });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal(renamed.body.name, newName);
      assert.equal(renamed.body.description, 'Keeps things running');
      assert.equal(renamed.body.created, original.created);
      assert.equal((await api('GET', `/api/groups/${encodeURIComponent(newName)}`)).body.id, original.id);
      assertError(await api('GET', `/api/groups/${encodeURIComponent(original.name)}`), 404, 'group.not_found');

      const event = await auditFor('group.update', original.id);
      assert.deepEqual(event.target, { type: 'group', id: original.id, name: newName });
      assert.deepEqual(event.details, { fields: ['name', 'description'] });

      // Only what is sent changes.
      const described = await api('PATCH', `/api/groups/${encodeURIComponent(newName)}`, { description: '' });
      assert.equal(described.status, 200);
      assert.equal(described.body.name, newName);
      assert.equal(described.body.description, '');

      const other = (await api('POST', '/api/groups', { name: unique('Other') })).body;
      assertError(await api('PATCH', `/api/groups/${other.id}`, { name: newName.toUpperCase() }), 409, 'group.name_taken');
      assertError(await api('PATCH', `/api/groups/${other.id}`, {}), 400, 'request.invalid');
      const unknown = await api('PATCH', `/api/groups/${other.id}`, { name: unique('x'), builtin: true });
      assertError(unknown, 400, 'request.invalid');
      assert.ok(unknown.body.details.some((d: { path: string }) => d.path === 'builtin'));
      assertError(await api('PATCH', '/api/groups/no-such-group', { description: 'x' }), 404, 'group.not_found');

      // The built-in group keeps its name and cannot be deleted, but its description may change.
      const allUsers = encodeURIComponent(ALL_USERS_GROUP.name);
      assertError(await api('PATCH', `/api/groups/${allUsers}`, { name: 'Everyone' }), 409, 'group.builtin');
      assertError(await api('DELETE', `/api/groups/${allUsers}`), 409, 'group.builtin');
      const builtinDescription = await api('PATCH', `/api/groups/${allUsers}`, { name: ALL_USERS_GROUP.name, description: 'Everybody' });
      assert.equal(builtinDescription.status, 200, builtinDescription.text);
      assert.equal(builtinDescription.body.builtin, true);
      await api('PATCH', `/api/groups/${allUsers}`, { description: ALL_USERS_GROUP.description });
    });

    test('delete a group: its memberships and bindings go with it', async () => {
      const group = (await api('POST', '/api/groups', { name: unique('Temp') })).body;
      assert.equal((await api('PUT', `/api/groups/${group.id}/members/alice`)).status, 204);
      const { app } = await gh.directory.apps.create({ label: unique('Temp app'), redirect_uris: ['https://temp.example.com/cb'] });
      await gh.directory.apps.bind(app.id, group.id);

      const deleted = await api('DELETE', `/api/groups/${group.id}`);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, '');
      assertError(await api('GET', `/api/groups/${group.id}`), 404, 'group.not_found');
      assertError(await api('DELETE', `/api/groups/${group.id}`), 404, 'group.not_found');
      assert.deepEqual(await gh.directory.apps.boundGroups(app.id), []);
      assert.ok(!(await gh.directory.groups.groupsOf((await gh.directory.users.get('alice')).id)).some((g) => g.id === group.id));

      const event = await auditFor('group.delete', group.id);
      assert.deepEqual(event.target, { type: 'group', id: group.id, name: group.name });
    });

    test('members: add (idempotent), list, remove; 404 when not a member; the built-in group lists everyone', async () => {
      const group = (await api('POST', '/api/groups', { name: unique('Team') })).body;
      const alice = await gh.directory.users.get('alice');
      for (let i = 0; i < 2; i++) {
        const added = await api('PUT', `/api/groups/${group.id}/members/${alice.id}`);
        assert.equal(added.status, 204, added.text);
        assert.equal(added.text, '');
      }
      assert.equal((await api('PUT', `/api/groups/${encodeURIComponent(group.name)}/members/bob@example.com`)).status, 204);

      const members = await api('GET', `/api/groups/${group.id}/members`, undefined, reader);
      assert.equal(members.status, 200, members.text);
      assert.deepEqual(
        members.body.data.map((u: { username: string }) => u.username),
        ['alice', 'bob'],
      );
      assert.equal(members.body.total, 2);
      assert.deepEqual(members.body.data[0], alice, 'members are full users');
      const searched = await api('GET', `/api/groups/${group.id}/members?search=BOB`, undefined, reader);
      assert.deepEqual(
        searched.body.data.map((u: { username: string }) => u.username),
        ['bob'],
      );

      const addEvent = await auditFor('group.add_member', group.id);
      assert.deepEqual(addEvent.target, { type: 'group', id: group.id, name: group.name });
      assert.deepEqual(addEvent.details, { user: { id: (await gh.directory.users.get('bob')).id, username: 'bob' } });

      const removed = await api('DELETE', `/api/groups/${group.id}/members/alice`);
      assert.equal(removed.status, 204);
      assertError(await api('DELETE', `/api/groups/${group.id}/members/alice`), 404, 'group.not_a_member');
      assert.deepEqual(
        (await api('GET', `/api/groups/${group.id}/members`)).body.data.map((u: { username: string }) => u.username),
        ['bob'],
      );
      const removeEvent = await auditFor('group.remove_member', group.id);
      assert.deepEqual(removeEvent.details, { user: { id: alice.id, username: 'alice' } });

      assertError(await api('PUT', `/api/groups/${group.id}/members/nobody`), 404, 'user.not_found');
      assertError(await api('PUT', '/api/groups/no-such-group/members/alice'), 404, 'group.not_found');
      assertError(await api('GET', '/api/groups/no-such-group/members'), 404, 'group.not_found');
      const allUsers = encodeURIComponent(ALL_USERS_GROUP.name);
      assertError(await api('PUT', `/api/groups/${allUsers}/members/alice`), 409, 'group.builtin');
      assertError(await api('DELETE', `/api/groups/${allUsers}/members/alice`), 409, 'group.builtin');

      const everyone = await api('GET', `/api/groups/${allUsers}/members?limit=1000`);
      const userCount = (await gh.directory.users.list()).length;
      assert.equal(everyone.body.total, userCount);
      assert.equal(everyone.body.data.length, userCount);
    });

    test('the apps a group is bound to', async () => {
      const group = (await api('POST', '/api/groups', { name: unique('Bound') })).body;
      assert.deepEqual((await api('GET', `/api/groups/${group.id}/apps`, undefined, reader)).body, []);
      const first = await gh.directory.apps.create({ label: unique('Zeta app'), redirect_uris: ['https://zeta.example.com/cb'] });
      const second = await gh.directory.apps.create({ label: unique('alpha app'), redirect_uris: ['https://alpha.example.com/cb'], auth_method: 'none' });
      await gh.directory.apps.create({ label: unique('Unbound app'), redirect_uris: ['https://unbound.example.com/cb'] });
      await gh.directory.apps.bind(first.app.id, group.id);
      await gh.directory.apps.bind(second.app.id, group.id);

      const apps = await api('GET', `/api/groups/${encodeURIComponent(group.name)}/apps`, undefined, reader);
      assert.equal(apps.status, 200, apps.text);
      assert.deepEqual(
        apps.body.map((a: { label: string }) => a.label),
        [second.app.label, first.app.label],
        'ordered by label, any case',
      );
      const shown = apps.body[1];
      assert.equal(shown.client_id, first.app.client_id);
      assert.equal(shown.has_client_secret, true);
      assert.equal(shown.icon_url, null);
      assert.equal(shown.issuer, gh.issuer);
      assert.equal(shown.discovery_url, `${gh.issuer}/.well-known/openid-configuration`);
      assert.ok(!('icon' in shown) && !('client_secret_hash' in shown) && !('client_secret' in shown));
      assert.ok(!apps.text.includes(first.clientSecret as string));
      assertError(await api('GET', '/api/groups/no-such-group/apps'), 404, 'group.not_found');
    });

    test('the list carries each group’s member count; All Users counts every user', async () => {
      const prefix = unique('counted');
      const empty = (await api('POST', '/api/groups', { name: `${prefix}-empty` })).body;
      const two = (await api('POST', '/api/groups', { name: `${prefix}-two` })).body;
      for (const name of ['alice', 'bob']) await api('PUT', `/api/groups/${two.id}/members/${name}`);
      const counted = await api('GET', `/api/groups?search=${encodeURIComponent(prefix)}`, undefined, reader);
      assert.equal(counted.status, 200, counted.text);
      assert.deepEqual(
        counted.body.data.map((g: { id: string; member_count: number }) => [g.id, g.member_count]),
        [
          [empty.id, 0],
          [two.id, 2],
        ],
      );
      assert.deepEqual(Object.keys(counted.body.data[1]).sort(), [...Object.keys(two), 'member_count'].sort(), 'a group and its count, nothing else');

      // A deleted user leaves the count.
      const temp = await gh.directory.users.create({ username: unique('leaver'), email: `${unique('leaver')}@example.com` });
      await api('PUT', `/api/groups/${two.id}/members/${temp.id}`);
      const withTemp = await api('GET', `/api/groups?search=${encodeURIComponent(`${prefix}-two`)}`, undefined, reader);
      assert.equal(withTemp.body.data[0].member_count, 3);
      await gh.directory.users.delete(temp.id);
      const afterDelete = await api('GET', `/api/groups?search=${encodeURIComponent(`${prefix}-two`)}`, undefined, reader);
      assert.equal(afterDelete.body.data[0].member_count, 2);

      const allUsers = await api('GET', `/api/groups?search=${encodeURIComponent(ALL_USERS_GROUP.name)}`, undefined, reader);
      const everyone = allUsers.body.data.find((g: { builtin: boolean }) => g.builtin);
      assert.equal(everyone.member_count, (await gh.directory.users.list()).length);
    });

    test('paging: limit=1 visits every group exactly once; offset past the end; bounds on limit', async () => {
      const prefix = unique('page');
      for (let i = 0; i < 5; i++) assert.equal((await api('POST', '/api/groups', { name: `${prefix}-${i}` })).status, 201);

      const all = await api('GET', '/api/groups?limit=1000', undefined, reader);
      const total = all.body.total as number;
      assert.ok(total >= 6);
      const seen: string[] = [];
      for (let offset = 0; offset < total; offset++) {
        const page = await api('GET', `/api/groups?limit=1&offset=${offset}`, undefined, reader);
        assert.equal(page.status, 200);
        assert.equal(page.body.total, total);
        assert.equal(page.body.limit, 1);
        assert.equal(page.body.offset, offset);
        assert.equal(page.body.data.length, 1);
        seen.push(page.body.data[0].id);
      }
      assert.equal(new Set(seen).size, total, 'no group twice');
      assert.deepEqual(
        seen,
        all.body.data.map((g: { id: string }) => g.id),
        'the same stable order',
      );

      const past = await api('GET', `/api/groups?offset=${total + 10}`, undefined, reader);
      assert.equal(past.status, 200);
      assert.deepEqual(past.body.data, []);
      assert.equal(past.body.total, total);
      assert.equal(past.body.limit, 100);

      for (const bad of ['limit=0', 'limit=1001', 'limit=-1', 'offset=-1', 'limit=abc']) {
        const response = await api('GET', `/api/groups?${bad}`, undefined, reader);
        assertError(response, 400, 'request.invalid');
        assert.match(response.body.details[0].path, /^querystring\.(limit|offset)$/);
      }

      const searched = await api('GET', `/api/groups?search=${encodeURIComponent(prefix.toUpperCase())}&limit=2&offset=2`, undefined, reader);
      assert.equal(searched.body.total, 5);
      assert.deepEqual(
        searched.body.data.map((g: { name: string }) => g.name),
        [`${prefix}-2`, `${prefix}-3`],
      );
      // LIKE wildcards in the search are taken literally.
      assert.equal((await api('GET', '/api/groups?search=%25', undefined, reader)).body.total, 0);
      assert.equal((await api('GET', '/api/groups?search=_', undefined, reader)).body.total, 0);

      // Members page the same way.
      const group = (await api('POST', '/api/groups', { name: `${prefix}-members` })).body;
      for (const name of ['dave', 'carol', 'bob', 'alice']) await api('PUT', `/api/groups/${group.id}/members/${name}`);
      const members: string[] = [];
      for (let offset = 0; offset < 4; offset++) {
        const page = await api('GET', `/api/groups/${group.id}/members?limit=1&offset=${offset}`, undefined, reader);
        assert.equal(page.body.total, 4);
        members.push(page.body.data[0].username);
      }
      assert.deepEqual(members, ['alice', 'bob', 'carol', 'dave']);
      const membersPast = await api('GET', `/api/groups/${group.id}/members?offset=4`, undefined, reader);
      assert.deepEqual(membersPast.body.data, []);
      assert.equal(membersPast.body.total, 4);
      assertError(await api('GET', `/api/groups/${group.id}/members?limit=1001`, undefined, reader), 400, 'request.invalid');
    });

    test('permissions: reading needs read; writing needs directory and a read-write key', async () => {
      const group = (await api('POST', '/api/groups', { name: unique('Perm') })).body;
      for (const key of [reader, readOnlyScope, helpDesk]) {
        assert.equal((await api('GET', '/api/groups', undefined, key)).status, 200);
        assert.equal((await api('GET', `/api/groups/${group.id}`, undefined, key)).status, 200);
        assert.equal((await api('GET', `/api/groups/${group.id}/members`, undefined, key)).status, 200);
        assert.equal((await api('GET', `/api/groups/${group.id}/apps`, undefined, key)).status, 200);
        const writes = [
          await api('POST', '/api/groups', { name: unique('Nope') }, key),
          await api('PATCH', `/api/groups/${group.id}`, { description: 'nope' }, key),
          await api('DELETE', `/api/groups/${group.id}`, undefined, key),
          await api('PUT', `/api/groups/${group.id}/members/alice`, undefined, key),
          await api('DELETE', `/api/groups/${group.id}/members/alice`, undefined, key),
        ];
        for (const response of writes) assertError(response, 403, 'auth.forbidden');
      }
      const anonymous = await call(gh, 'GET', '/api/groups');
      assertError(anonymous, 401, 'auth.invalid_credentials');
      assertError(await api('POST', '/api/groups', { name: unique('Nope') }, 'not-a-key'), 401, 'auth.invalid_credentials');
      assert.equal((await gh.directory.groups.get(group.id)).description, '', 'nothing changed');
      assert.deepEqual(await gh.directory.groups.memberIds(group.id), []);

      // The manager may write, with either header.
      const bearer = await call(gh, 'PATCH', `/api/groups/${group.id}`, { description: 'managed' }, { key: manager, bearer: true });
      assert.equal(bearer.status, 200);
      assert.equal(bearer.body.description, 'managed');
    });
  });
}
