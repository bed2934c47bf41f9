import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { migrations } from '../../src/storage/migrate.ts';
import { ALL_USERS_GROUP } from '../../src/storage/migrations/001_initial.ts';
import { type Storage, openStorage } from '../../src/storage/db.ts';
import { DATABASE_KINDS, freshConfig } from '../helpers/databases.ts';

const TABLES = ['users', 'user_groups', 'group_members', 'apps', 'app_bindings', 'signing_keys', 'oidc_payloads', 'schema_migrations'] as const;

for (const { kind, skip } of DATABASE_KINDS) {
  describe(kind, { skip }, () => {
    let config: Awaited<ReturnType<typeof freshConfig>>['config'];
    let cleanup: () => Promise<void>;
    const open = (): Promise<Storage> => openStorage({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });

    before(async () => {
      ({ config, cleanup } = await freshConfig(kind));
    });
    after(() => cleanup());

    test('opens the right dialect', async () => {
      const storage = await open();
      try {
        assert.equal(storage.dialect, kind);
      } finally {
        await storage.close();
      }
    });

    test('applies every migration and records it in schema_migrations', async () => {
      const storage = await open();
      try {
        const rows = await storage.db.selectFrom('schema_migrations').selectAll().orderBy('version').execute();
        assert.deepEqual(
          rows.map((r) => ({ version: r.version, name: r.name })),
          migrations.map((m) => ({ version: m.version, name: m.name })),
        );
        for (const row of rows) assert.ok(!Number.isNaN(Date.parse(row.applied_at)), `applied_at "${row.applied_at}" is a timestamp`);
        // Every table exists and is queryable.
        for (const table of TABLES) {
          await storage.db.selectFrom(table).selectAll().limit(1).execute();
        }
      } finally {
        await storage.close();
      }
    });

    test('reopening the same database is idempotent', async () => {
      const first = await open();
      const before = await first.db.selectFrom('schema_migrations').selectAll().orderBy('version').execute();
      await first.close();

      for (let i = 0; i < 2; i++) {
        const again = await open();
        try {
          const rows = await again.db.selectFrom('schema_migrations').selectAll().orderBy('version').execute();
          assert.deepEqual(rows, before, 'no migration re-applied, applied_at unchanged');
          const builtins = await again.db.selectFrom('user_groups').selectAll().where('builtin', '=', 1).execute();
          assert.equal(builtins.length, 1);
        } finally {
          await again.close();
        }
      }
    });

    test('the built-in All Users group exists exactly once', async () => {
      const storage = await open();
      try {
        const groups = await storage.db.selectFrom('user_groups').selectAll().execute();
        const allUsers = groups.filter((g) => g.name === ALL_USERS_GROUP.name);
        assert.equal(allUsers.length, 1);
        assert.equal(allUsers[0]?.builtin, 1);
        assert.equal(allUsers[0]?.name_key, 'all users');
        assert.equal(allUsers[0]?.description, ALL_USERS_GROUP.description);
        assert.match(allUsers[0]?.id ?? '', /^[0-9a-f]{24}$/);
      } finally {
        await storage.close();
      }
    });

    test('data survives a reopen', async () => {
      const storage = await open();
      const now = new Date().toISOString();
      await storage.db
        .insertInto('user_groups')
        .values({ id: 'a'.repeat(24), name: 'Persisted', name_key: 'persisted', description: '', builtin: 0, created_at: now, updated_at: now })
        .execute();
      await storage.close();
      const again = await open();
      try {
        const row = await again.db.selectFrom('user_groups').selectAll().where('name_key', '=', 'persisted').executeTakeFirst();
        assert.equal(row?.name, 'Persisted');
      } finally {
        await again.close();
      }
    });

    test('bigint columns read back as numbers', async () => {
      const storage = await open();
      try {
        const expires = 4_102_444_800; // 2100-01-01, beyond 32 bits
        await storage.db
          .insertInto('oidc_payloads')
          .values({ model: 'Session', id: 'bigint-check', payload: '{}', grant_id: null, client_id: null, uid: null, user_code: null, expires_at: expires, consumed_at: null })
          .execute();
        const row = await storage.db.selectFrom('oidc_payloads').select('expires_at').where('id', '=', 'bigint-check').executeTakeFirstOrThrow();
        assert.equal(row.expires_at, expires);
        assert.equal(typeof row.expires_at, 'number');
      } finally {
        await storage.close();
      }
    });
  });
}
