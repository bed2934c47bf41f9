import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../db.ts';

/**
 * A counter that every change to what access decisions read (users, groups, memberships, apps,
 * bindings) moves, by trigger, in the same transaction as the change: so a node can keep decisions
 * in memory and know, with one tiny read, whether they still hold. SQLite only: there every write,
 * by this process, the command line or a test's raw SQL, goes through the one write lock, so the
 * counter can never run ahead of the data it guards. PostgreSQL nodes read the directory each time.
 */
const USER_COLUMNS = 'username, email, firstname, lastname, displayname, state, account_locked, attributes, role';
const WATCHED: ReadonlyArray<{ table: string; updateOf?: string }> = [
  // Sign-in bookkeeping (failed_logins, password_hash) decides nothing here; a lockout sets account_locked.
  { table: 'users', updateOf: USER_COLUMNS },
  { table: 'user_groups' },
  { table: 'group_members' },
  { table: 'apps' },
  { table: 'app_bindings' },
];

// biome-ignore lint/suspicious/noExplicitAny: migrations must not depend on today's table types
export async function up(db: Kysely<any>, dialect: DialectName): Promise<void> {
  if (dialect !== 'sqlite') return;
  await db.schema.createTable('directory_version').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('version', 'integer', (c) => c.notNull()).execute();
  await db.insertInto('directory_version').values({ id: 1, version: 0 }).execute();
  for (const { table, updateOf } of WATCHED) {
    for (const event of ['insert', 'delete', 'update']) {
      const on = event === 'update' && updateOf ? `update of ${updateOf}` : event;
      await sql
        .raw(`create trigger ${table}_${event}_directory_version after ${on} on ${table} begin update directory_version set version = version + 1 where id = 1; end`)
        .execute(db);
    }
  }
}
