import { type Kysely, sql } from 'kysely';
import type { DialectName } from './db.ts';
import * as initial from './migrations/001_initial.ts';
import type { Database } from './schema.ts';

interface Migration {
  version: number;
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: migrations run against the schema of their own time
  up(db: Kysely<any>): Promise<void>;
}

/** Forward-only and append-only: a released migration is never edited, a new one is added. */
export const migrations: readonly Migration[] = [{ version: 1, name: 'initial', up: initial.up }];

// Any constant works; it only has to be the same on every Gatehouse node sharing one PostgreSQL.
const MIGRATION_LOCK_ID = 4_711_0001;

export async function migrate(db: Kysely<Database>, dialect: DialectName): Promise<void> {
  await db.schema
    .createTable('schema_migrations')
    .ifNotExists()
    .addColumn('version', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('applied_at', 'text', (c) => c.notNull())
    .execute();

  await db.transaction().execute(async (trx) => {
    // Several nodes may start at once against one PostgreSQL: only one migrates, the others wait.
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_ID})`.execute(trx);
    const applied = new Set((await trx.selectFrom('schema_migrations').select('version').execute()).map((r) => r.version));
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await migration.up(trx);
      await trx
        .insertInto('schema_migrations')
        .values({ version: migration.version, name: migration.name, applied_at: new Date().toISOString() })
        .execute();
    }
  });
}
