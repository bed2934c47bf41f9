/**
 * On SQLite the OIDC layer keeps access decisions in memory while the directory version stands
 * (migration 004): every change to what a decision reads must move it, in the same transaction —
 * through the directory, another process's command, or raw SQL — and sign-in bookkeeping must not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { createAccessResolver } from '../../src/directory/access.ts';
import type { Runtime } from '../../src/runtime.ts';
import { createVersionReader } from '../../src/storage/versions.ts';
import { freshRuntime } from '../helpers/databases.ts';

describe('directory version (SQLite)', () => {
  let runtime: Runtime;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ runtime, cleanup } = await freshRuntime('sqlite'));
  });
  after(() => cleanup?.());

  const version = async () => (await runtime.storage.read<{ version: number }>('select version from directory_version where id = 1', []))[0]?.version ?? -1;

  test('each change to users, groups, members, apps or bindings moves it; sign-in bookkeeping does not', async () => {
    const { directory, storage } = runtime;
    const moves = async (what: string, change: () => Promise<unknown>, expected = true) => {
      const before = await version();
      await change();
      assert.equal((await version()) > before, expected, what);
    };
    await moves('creating a user', () => directory.users.create({ username: 'vera', email: 'vera@example.com', password: 'directory passphrase 1' }));
    await moves('changing a profile', () => directory.users.change('vera', { firstname: 'Vera' }));
    // A failure only counts a try; the one that locks the account changes what access decisions read.
    await moves('a failed sign-in that leaves the account unlocked', () => directory.users.signIn('vera', 'wrong'), false);
    for (let failures = 1; failures < 9; failures++) await directory.users.signIn('vera', 'wrong');
    await moves('the failed sign-in that locks the account', () => directory.users.signIn('vera', 'wrong'));
    await directory.users.unlock('vera');
    await moves('a successful sign-in resetting the failure count', () => directory.users.signIn('vera', 'directory passphrase 1'), false);
    await moves('a raw lock in SQL', () => storage.db.updateTable('users').set({ account_locked: 1 }).where('username_key', '=', 'vera').execute());
    await moves('a raw failure counter in SQL', () => storage.db.updateTable('users').set({ failed_logins: 3 }).where('username_key', '=', 'vera').execute(), false);
    await moves('creating a group', () => directory.groups.create('Versioned'));
    await moves('adding a member', () => directory.groups.addMember('Versioned', 'vera'));
    const { app } = await directory.apps.create({ label: 'Versioned app', redirect_uris: ['https://v.example.com/cb'] });
    await moves('binding', () => directory.apps.bind(app.id, 'Versioned'));
    await moves('deactivating the app', () => directory.apps.deactivate(app.id));
    await moves('unbinding', () => directory.apps.unbind(app.id, 'Versioned'));
    await moves('removing a member', () => directory.groups.removeMember('Versioned', 'vera'));
    await moves('deleting a user', () => directory.users.delete('vera'));
    await moves('a rolled-back change', async () => {
      await storage.db
        .transaction()
        .execute(async (trx) => {
          await trx.updateTable('users').set({ role: 'read_only' }).execute();
          throw new Error('roll back');
        })
        .catch(() => undefined);
    }, false);
  });

  test('a resolver keeps decisions only while the version stands', async () => {
    const { directory, storage } = runtime;
    const user = await directory.users.create({ username: 'walt', email: 'walt@example.com', state: 'ACTIVATED' });
    const { app } = await directory.apps.create({ label: 'Cached app', redirect_uris: ['https://c.example.com/cb'] });
    await directory.apps.bind(app.id, 'All Users');
    let reads = 0;
    const counted = <R>(query: string, parameters: readonly unknown[]) => {
      reads += 1;
      return storage.read<R>(query, parameters);
    };
    const access = createAccessResolver(storage.db, { read: counted, versions: createVersionReader(storage.read, (_key, load) => load()) });
    assert.equal((await access.decide(user.id, app.client_id)).allowed, true);
    const first = reads;
    assert.equal((await access.decide(user.id, app.client_id)).allowed, true);
    assert.equal(reads, first, 'the second decision comes from memory');
    // Another writer (raw SQL on the same file, as a command would) changes the directory.
    await sql`update users set state = 'SUSPENDED' where id = ${user.id}`.execute(storage.db);
    const after = await access.decide(user.id, app.client_id);
    assert.equal(after.allowed, false);
    assert.ok(reads > first, 'read again after the change');
  });

  test('the payload version moves when an access token or grant is changed or deleted; not on inserts, nor for other rows', async () => {
    const { storage } = runtime;
    const payloads = async () => (await storage.read<{ version: number }>('select version from payload_version where id = 1', []))[0]?.version ?? -1;
    const row = (model: string) => ({ model, id: `versioned-${model}`, payload: '{}', grant_id: null, client_id: null, account_id: null, uid: null, user_code: null, expires_at: null, consumed_at: null });
    for (const model of ['AccessToken', 'Grant']) {
      const before = await payloads();
      await storage.db.insertInto('oidc_payloads').values(row(model)).execute();
      assert.equal(await payloads(), before, `inserting a ${model}`);
      await storage.db.updateTable('oidc_payloads').set({ payload: '{"changed":true}' }).where('model', '=', model).where('id', '=', row(model).id).execute();
      assert.equal(await payloads(), before + 1, `changing a ${model}`);
      await storage.db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', row(model).id).execute();
      assert.equal(await payloads(), before + 2, `deleting a ${model}`);
    }
    // Consumed codes, rotated refresh tokens and touched sessions can't change a remembered row.
    for (const model of ['AuthorizationCode', 'RefreshToken', 'Session', 'Interaction']) {
      const before = await payloads();
      await storage.db.insertInto('oidc_payloads').values(row(model)).execute();
      await storage.db.updateTable('oidc_payloads').set({ consumed_at: 1 }).where('model', '=', model).where('id', '=', row(model).id).execute();
      await storage.db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', row(model).id).execute();
      assert.equal(await payloads(), before, model);
    }
  });
});
