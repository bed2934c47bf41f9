import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { DialectName } from './db.ts';

/**
 * Runs `work` in a transaction that no other Gatehouse process sharing the database runs at the
 * same time: a transaction-scoped advisory lock on PostgreSQL, BEGIN IMMEDIATE (the write lock,
 * waited for through busy_timeout) on SQLite. For the rare check-then-write steps every node may
 * attempt at once: migrations, the first signing keys, key rotation.
 */
export async function exclusive<DB, T>(db: Kysely<DB>, dialect: DialectName, name: string, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  if (dialect === 'postgres') {
    return db.transaction().execute(async (trx) => {
      await advisoryTransactionLock(trx, name);
      return work(trx);
    });
  }
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    try {
      const result = await work(connection);
      await sql`commit`.execute(connection);
      return result;
    } catch (error) {
      await sql`rollback`.execute(connection).catch(() => {});
      throw error;
    }
  });
}

/** The PostgreSQL advisory lock named `name`, held until the open transaction `trx` ends. */
export async function advisoryTransactionLock<DB>(trx: Kysely<DB>, name: string): Promise<void> {
  const lockId = createHash('sha256').update(`gatehouse:${name}`).digest().readBigInt64BE(0);
  await sql`select pg_advisory_xact_lock(${lockId})`.execute(trx);
}

/** A transaction, or the one already open: lets a store step run inside a caller's larger change. */
export function atomically<DB, T>(db: Kysely<DB>, work: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db) : db.transaction().execute(work);
}
