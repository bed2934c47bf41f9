/**
 * Session ids (the `_session` cookie's value) at rest: the row is keyed by a hash of the id and
 * holds it only sealed with the installation secret, so oidc-provider still gets it back when it
 * finds a session by uid; a database moved to another secret yields no session; and migration 008
 * drops the sessions stored in clear before it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AdapterPayload } from 'oidc-provider';
import { createAccessResolver } from '../../src/directory/access.ts';
import { createAdapterClass, sessionIdSealingKey, storageKey } from '../../src/oidc/adapter.ts';
import type { Runtime } from '../../src/runtime.ts';
import { migrate } from '../../src/storage/migrate.ts';
import { DATABASE_KINDS, freshRuntime } from '../helpers/databases.ts';

const SESSION_ID = 'cookie-value-Zk3v9QpL0wXy';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`session ids at rest (${kind})`, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    let Adapter: ReturnType<typeof createAdapterClass>;

    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
      Adapter = createAdapterClass(rt.storage.db, createAccessResolver(rt.storage.db), { read: rt.storage.read, write: rt.storage.write, sessionIdKey: sessionIdSealingKey(rt.secret) });
    });
    after(() => cleanup());

    const session = (uid: string): AdapterPayload => ({ jti: SESSION_ID, uid, accountId: 'someone', loginTs: 1, kind: 'Session' });
    const rowsOf = (model: string) => rt.storage.db.selectFrom('oidc_payloads').selectAll().where('model', '=', model).execute();

    test('a session is stored under a hash of its id, sealed, and found by id and by uid with its id', async () => {
      const sessions = new Adapter('Session');
      await sessions.upsert(SESSION_ID, session('uid-1'), 3600);
      const [row, ...others] = await rowsOf('Session');
      assert.equal(others.length, 0);
      assert.equal(row?.id, storageKey(SESSION_ID));
      assert.ok(!JSON.stringify(row).includes(SESSION_ID), `no session id in clear: ${JSON.stringify(row)}`);
      assert.equal((await sessions.find(SESSION_ID))?.jti, SESSION_ID);
      const byUid = await sessions.findByUid('uid-1');
      assert.equal(byUid?.jti, SESSION_ID);
      assert.equal(byUid?.accountId, 'someone');
      assert.deepEqual(Object.keys(byUid ?? {}).sort(), ['accountId', 'jti', 'kind', 'loginTs', 'uid'], 'nothing of the sealing shows');
      await sessions.destroy(SESSION_ID);
      assert.equal(await sessions.findByUid('uid-1'), undefined);
    });

    test('an interaction keeps the cookie of its session sealed and gives it back', async () => {
      const interactions = new Adapter('Interaction');
      await interactions.upsert('interaction-1', { jti: 'interaction-1', kind: 'Interaction', session: { accountId: 'someone', uid: 'uid-2', cookie: SESSION_ID } }, 600);
      const [row] = await rowsOf('Interaction');
      assert.ok(row && !JSON.stringify(row).includes(SESSION_ID), 'no session id in clear');
      const found = await interactions.find('interaction-1');
      assert.deepEqual(found?.session, { accountId: 'someone', uid: 'uid-2', cookie: SESSION_ID });
      await interactions.destroy('interaction-1');
    });

    test('under another installation secret the sealed id opens to nothing: no session', async () => {
      const sessions = new Adapter('Session');
      await sessions.upsert(SESSION_ID, session('uid-3'), 3600);
      const elsewhere = createAdapterClass(rt.storage.db, createAccessResolver(rt.storage.db), {
        read: rt.storage.read,
        write: rt.storage.write,
        sessionIdKey: sessionIdSealingKey(Buffer.from('another installation secret')),
      });
      assert.equal(await new elsewhere('Session').findByUid('uid-3'), undefined);
      assert.equal((await sessions.findByUid('uid-3'))?.jti, SESSION_ID);
      await sessions.destroy(SESSION_ID);
    });

    test('migration 008 drops sessions and interactions stored before it, and nothing else', async () => {
      const db = rt.storage.db;
      const row = (model: string, id: string, payload: object) => ({ model, id, payload: JSON.stringify(payload), expires_at: Math.floor(Date.now() / 1000) + 3600 });
      await db
        .insertInto('oidc_payloads')
        .values([
          row('Session', 'clear-session', { jti: 'clear-session', uid: 'u', accountId: 'a' }),
          row('Interaction', storageKey('i'), { session: { uid: 'u', accountId: 'a', cookie: 'clear-session' } }),
          row('Grant', storageKey('g'), { accountId: 'a', clientId: 'c' }),
        ])
        .execute();
      await db.deleteFrom('schema_migrations').where('version', '=', 8).execute();
      await migrate(db, rt.storage.dialect);
      const left = await db.selectFrom('oidc_payloads').select('model').execute();
      assert.deepEqual(left.map((r) => r.model), ['Grant']);
      assert.ok(await db.selectFrom('schema_migrations').select('version').where('version', '=', 8).executeTakeFirst(), 'recorded again');
    });
  });
}
