import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { User } from '../../src/directory/users.ts';
import type { Runtime } from '../../src/runtime.ts';
import { ALL_USERS_GROUP } from '../../src/storage/migrations/001_initial.ts';
import { DATABASE_KINDS, freshRuntime } from '../helpers/databases.ts';
import { rejectsWith, unique } from '../helpers/domain.ts';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(kind, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
    });
    after(() => cleanup());

    const newUser = (): Promise<User> => {
      const name = unique('member');
      return rt.directory.users.create({ username: name, email: `${name}@example.com` });
    };
    const countGroups = async () => (await rt.storage.db.selectFrom('user_groups').select('id').execute()).length;

    test('creates a group and finds it by id or name in any case', async () => {
      const name = unique('Engineering');
      const group = await rt.directory.groups.create(` ${name} `, 'Builds things');
      assert.match(group.id, /^[0-9a-f]{24}$/);
      assert.equal(group.name, name);
      assert.equal(group.description, 'Builds things');
      assert.equal(group.builtin, false);
      assert.deepEqual(await rt.directory.groups.get(group.id), group);
      assert.deepEqual(await rt.directory.groups.get(name.toUpperCase()), group);
      assert.ok((await rt.directory.groups.list()).some((g) => g.id === group.id));
      await rejectsWith(rt.directory.groups.get('no such group'), 'group.not_found', 404);
    });

    test('a duplicate name, in any case, is a 409 and writes nothing', async () => {
      const name = unique('Ops');
      await rt.directory.groups.create(name);
      const before = await countGroups();
      await rejectsWith(rt.directory.groups.create(name.toLowerCase()), 'group.name_taken', 409);
      await rejectsWith(rt.directory.groups.create(ALL_USERS_GROUP.name.toUpperCase()), 'group.name_taken', 409);
      assert.equal(await countGroups(), before);
    });

    test('invalid names are refused', async () => {
      await rejectsWith(rt.directory.groups.create('   '), 'group.invalid_name', 400);
      await rejectsWith(rt.directory.groups.create('x'.repeat(129)), 'group.invalid_name', 400);
    });

    test('members are added (idempotently), listed and removed', async () => {
      const group = await rt.directory.groups.create(unique('Team'));
      const [u1, u2] = [await newUser(), await newUser()];
      await rt.directory.groups.addMember(group.id, u1.id);
      await rt.directory.groups.addMember(group.name, u2.username);
      await rt.directory.groups.addMember(group.id, u1.email); // already a member: no error, no duplicate
      assert.deepEqual((await rt.directory.groups.memberIds(group.id)).sort(), [u1.id, u2.id].sort());

      await rt.directory.groups.removeMember(group.id, u1.id);
      assert.deepEqual(await rt.directory.groups.memberIds(group.id), [u2.id]);
      await rejectsWith(rt.directory.groups.removeMember(group.id, u1.id), 'group.not_a_member', 404);
      await rejectsWith(rt.directory.groups.addMember(group.id, 'nobody-at-all'), 'user.not_found', 404);
      await rejectsWith(rt.directory.groups.addMember(unique('missing'), u1.id), 'group.not_found', 404);
    });

    test('groupsOf lists All Users and the groups the user was added to', async () => {
      const user = await newUser();
      const only = await rt.directory.groups.groupsOf(user.id);
      assert.deepEqual(only.map((g) => g.name), [ALL_USERS_GROUP.name]);
      assert.equal(only[0]?.builtin, true);

      const group = await rt.directory.groups.create(unique('Readers'));
      await rt.directory.groups.create(unique('Unrelated'));
      await rt.directory.groups.addMember(group.id, user.id);
      const both = await rt.directory.groups.groupsOf(user.id);
      assert.deepEqual(both.map((g) => g.name).sort(), [ALL_USERS_GROUP.name, group.name].sort());
    });

    test('the built-in group contains every user and cannot be deleted or edited', async () => {
      const allUsers = await rt.directory.groups.get(ALL_USERS_GROUP.name);
      assert.equal(allUsers.builtin, true);
      const user = await newUser();
      const members = await rt.directory.groups.memberIds(allUsers.id);
      assert.ok(members.includes(user.id));
      assert.equal(members.length, (await rt.directory.users.list()).length);

      await rejectsWith(rt.directory.groups.delete(allUsers.id), 'group.builtin', 409);
      await rejectsWith(rt.directory.groups.delete(ALL_USERS_GROUP.name), 'group.builtin', 409);
      await rejectsWith(rt.directory.groups.addMember(allUsers.id, user.id), 'group.builtin', 409);
      await rejectsWith(rt.directory.groups.removeMember(allUsers.id, user.id), 'group.builtin', 409);

      const rows = await rt.storage.db.selectFrom('user_groups').selectAll().where('builtin', '=', 1).execute();
      assert.equal(rows.length, 1);
      const stored = await rt.storage.db.selectFrom('group_members').selectAll().where('group_id', '=', allUsers.id).execute();
      assert.deepEqual(stored, [], 'All Users membership is implicit, never stored');
    });

    test('deleting a group removes its memberships and app bindings, not the users', async () => {
      const group = await rt.directory.groups.create(unique('Temp'));
      const user = await newUser();
      await rt.directory.groups.addMember(group.id, user.id);
      const { app } = await rt.directory.apps.create({ label: unique('App'), redirect_uris: ['https://app.example.com/cb'] });
      await rt.directory.apps.bind(app.id, group.id);

      const deleted = await rt.directory.groups.delete(group.name);
      assert.equal(deleted.id, group.id);
      await rejectsWith(rt.directory.groups.get(group.id), 'group.not_found', 404);
      assert.deepEqual(await rt.storage.db.selectFrom('group_members').selectAll().where('group_id', '=', group.id).execute(), []);
      assert.deepEqual(await rt.storage.db.selectFrom('app_bindings').selectAll().where('group_id', '=', group.id).execute(), []);
      assert.equal((await rt.directory.users.get(user.id)).id, user.id);
    });
  });
}
