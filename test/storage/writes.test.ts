/**
 * The storage's write path for the protocol's rows: each write resolves once committed with the
 * rows it changed; on SQLite, writes of one event-loop turn share a commit (group commit) without
 * sharing their fate, and never land inside a transaction another caller has open.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Runtime } from '../../src/runtime.ts';
import { DATABASE_KINDS, freshConfig, freshRuntime } from '../helpers/databases.ts';
import { openRuntime } from '../../src/runtime.ts';

const INSERT = 'insert into oidc_payloads (model, id, payload, expires_at) values (?, ?, ?, ?)';
const count = async (rt: Runtime, model: string) =>
  Number((await rt.storage.read<{ n: number | string }>('select count(*) as n from oidc_payloads where model = ?', [model]))[0]?.n);

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`storage writes (${kind})`, { skip }, () => {
    let rt: Runtime;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ runtime: rt, cleanup } = await freshRuntime(kind));
    });
    after(() => cleanup());

    test('many writes at once each resolve with their own row count, and all are there afterwards', async () => {
      const { write } = rt.storage;
      const inserted = await Promise.all(Array.from({ length: 200 }, (_, i) => write(INSERT, ['WriteTest', `w-${i}`, '{}', null])));
      assert.deepEqual(new Set(inserted), new Set([1]));
      assert.equal(await count(rt, 'WriteTest'), 200);
      const [updated, missing, deleted] = await Promise.all([
        write("update oidc_payloads set consumed_at = 1 where model = 'WriteTest' and id like ?", ['w-1%']),
        write("update oidc_payloads set consumed_at = 1 where model = 'WriteTest' and id = ?", ['nope']),
        write("delete from oidc_payloads where model = 'WriteTest' and id = ?", ['w-5']),
      ]);
      assert.equal(updated, 111); // w-1, w-10…w-19, w-100…w-199
      assert.equal(missing, 0);
      assert.equal(deleted, 1);
      assert.equal(await count(rt, 'WriteTest'), 199);
    });

    test('a failing write is refused alone: the writes committed with it stand', async () => {
      const { write } = rt.storage;
      const results = await Promise.allSettled([
        write(INSERT, ['FailTest', 'a', '{}', null]),
        write(INSERT, ['FailTest', 'a', '{}', null]), // the same primary key
        write(INSERT, ['FailTest', 'b', '{}', null]),
        write('insert into no_such_table values (?)', [1]),
      ]);
      const [first, second, other, bad] = results.map((r) => r.status);
      // Of the two inserts of one key, exactly one stands. On SQLite it is the first queued; on
      // PostgreSQL they run side by side on two connections, and either may come first.
      assert.deepEqual([first, second].sort(), ['fulfilled', 'rejected']);
      if (kind === 'sqlite') assert.equal(first, 'fulfilled');
      assert.equal(other, 'fulfilled');
      assert.equal(bad, 'rejected');
      assert.equal(await count(rt, 'FailTest'), 2);
    });

    test('a write made while a transaction is open is not part of it: a rollback keeps it', async () => {
      const { db, write } = rt.storage;
      let pending: Promise<number> | undefined;
      await assert.rejects(
        db.transaction().execute(async (trx) => {
          await trx.insertInto('oidc_payloads').values({ model: 'TxTest', id: 'inside', payload: '{}' }).execute();
          pending = write(INSERT, ['TxTest', 'outside', '{}', null]);
          // Give a group commit every chance to run now, inside the open transaction.
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new Error('roll back');
        }),
        /roll back/,
      );
      assert.equal(await pending, 1);
      const ids = await rt.storage.read<{ id: string }>('select id from oidc_payloads where model = ? order by id', ['TxTest']);
      assert.deepEqual(
        ids.map((r) => r.id),
        ['outside'],
      );
    });
  });
}

describe('storage writes (sqlite): closing', () => {
  test('closing the storage commits the writes still queued', async () => {
    const { config, cleanup } = await freshConfig('sqlite');
    try {
      const first = await openRuntime(config);
      const writes = Array.from({ length: 50 }, (_, i) => first.storage.write(INSERT, ['CloseTest', `c-${i}`, '{}', null]));
      await first.close();
      assert.deepEqual(new Set(await Promise.all(writes)), new Set([1]));
      const second = await openRuntime(config);
      try {
        assert.equal(await count(second, 'CloseTest'), 50);
      } finally {
        await second.close();
      }
    } finally {
      await cleanup();
    }
  });
});
