import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { App } from '../../src/directory/apps.ts';
import { LOCKOUT_THRESHOLD, type User } from '../../src/directory/users.ts';
import type { Runtime } from '../../src/runtime.ts';
import { ALL_USERS_GROUP } from '../../src/storage/migrations/001_initial.ts';
import { DATABASE_KINDS, freshRuntime } from '../helpers/databases.ts';
import { unique } from '../helpers/domain.ts';

const PASSWORD = 'correct horse battery staple';
for (const { kind, skip } of DATABASE_KINDS) {
  describe(kind, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
    });
    after(() => cleanup());

    const newUser = (password?: string): Promise<User> => {
      const name = unique('u');
      return rt.directory.users.create({ username: name, email: `${name}@example.com`, password });
    };
    const newApp = async (): Promise<App> => (await rt.directory.apps.create({ label: unique('App '), redirect_uris: ['https://app.example.com/cb'] })).app;

    /** An app bound to a fresh group, and a member of that group. */
    async function assigned(): Promise<{ user: User; app: App; groupName: string }> {
      const user = await newUser(PASSWORD);
      const app = await newApp();
      const group = await rt.directory.groups.create(unique('G'));
      await rt.directory.groups.addMember(group.id, user.id);
      await rt.directory.apps.bind(app.id, group.id);
      return { user, app, groupName: group.name };
    }

    test('a member of a bound group is allowed, with the granting groups', async () => {
      const { user, app, groupName } = await assigned();
      const decision = await rt.directory.access.decide(user.id, app.client_id);
      assert.equal(decision.allowed, true);
      assert.ok(decision.allowed);
      assert.equal(decision.user.id, user.id);
      assert.equal(decision.app.id, app.id);
      assert.deepEqual(decision.groups, [groupName]);
    });

    test('a user in no bound group is not_assigned; binding All Users then lets everyone in', async () => {
      const user = await newUser();
      const app = await newApp();
      const other = await rt.directory.groups.create(unique('Other'));
      await rt.directory.apps.bind(app.id, other.id);
      const denied = await rt.directory.access.decide(user.id, app.client_id);
      assert.equal(denied.allowed, false);
      assert.equal(!denied.allowed && denied.reason, 'not_assigned');

      await rt.directory.apps.bind(app.id, ALL_USERS_GROUP.name);
      const allowed = await rt.directory.access.decide(user.id, app.client_id);
      assert.ok(allowed.allowed);
      assert.deepEqual(allowed.groups, [ALL_USERS_GROUP.name]);
      // A user created after the binding is in, too.
      const later = await newUser();
      assert.equal((await rt.directory.access.decide(later.id, app.client_id)).allowed, true);
    });

    test('an app with no bindings admits nobody', async () => {
      const user = await newUser();
      const app = await newApp();
      const decision = await rt.directory.access.decide(user.id, app.client_id);
      assert.equal(!decision.allowed && decision.reason, 'not_assigned');
    });

    test('a suspended user is refused, and allowed again once activated', async () => {
      const { user, app } = await assigned();
      await rt.directory.users.suspend(user.id);
      const decision = await rt.directory.access.decide(user.id, app.client_id);
      assert.equal(!decision.allowed && decision.reason, 'user_suspended');
      await rt.directory.users.activate(user.id);
      assert.equal((await rt.directory.access.decide(user.id, app.client_id)).allowed, true);
    });

    test('a staged user is refused', async () => {
      const name = unique('staged');
      const user = await rt.directory.users.create({ username: name, email: `${name}@example.com`, state: 'STAGED' });
      const app = await newApp();
      await rt.directory.apps.bind(app.id, ALL_USERS_GROUP.name);
      const decision = await rt.directory.access.decide(user.id, app.client_id);
      assert.equal(!decision.allowed && decision.reason, 'user_staged');
    });

    test('a user locked by failed sign-ins is refused until unlocked', async () => {
      const { user, app } = await assigned();
      for (let i = 0; i < LOCKOUT_THRESHOLD; i++) await rt.directory.users.signIn(user.username, 'wrong password');
      const decision = await rt.directory.access.decide(user.id, app.client_id);
      assert.equal(!decision.allowed && decision.reason, 'user_locked');
      await rt.directory.users.unlock(user.id);
      assert.equal((await rt.directory.access.decide(user.id, app.client_id)).allowed, true);
    });

    test('an inactive app refuses everyone, and admits again once activated', async () => {
      const { user, app } = await assigned();
      await rt.directory.apps.deactivate(app.id);
      const decision = await rt.directory.access.decide(user.id, app.client_id);
      assert.equal(!decision.allowed && decision.reason, 'app_inactive');
      await rt.directory.apps.activate(app.id);
      assert.equal((await rt.directory.access.decide(user.id, app.client_id)).allowed, true);
    });

    test('unknown users and clients', async () => {
      const { user, app } = await assigned();
      const noUser = await rt.directory.access.decide('f'.repeat(24), app.client_id);
      assert.equal(!noUser.allowed && noUser.reason, 'no_user');
      const noApp = await rt.directory.access.decide(user.id, 'no-such-client');
      assert.equal(!noApp.allowed && noApp.reason, 'no_app');
    });

    test('directory changes take effect at once: leaving the group, unbinding, deleting the user', async () => {
      const { user, app } = await assigned();
      const group = (await rt.directory.apps.boundGroups(app.id))[0];
      assert.ok(group);
      await rt.directory.groups.removeMember(group.id, user.id);
      assert.equal((await rt.directory.access.decide(user.id, app.client_id)).allowed, false);
      await rt.directory.groups.addMember(group.id, user.id);
      assert.equal((await rt.directory.access.decide(user.id, app.client_id)).allowed, true);
      await rt.directory.apps.unbind(app.id, group.id);
      assert.equal((await rt.directory.access.decide(user.id, app.client_id)).allowed, false);
      await rt.directory.apps.bind(app.id, group.id);
      await rt.directory.users.delete(user.id);
      const gone = await rt.directory.access.decide(user.id, app.client_id);
      assert.equal(!gone.allowed && gone.reason, 'no_user');
    });
  });
}
