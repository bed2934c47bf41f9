import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { CompiledQuery, type DatabaseConnection, type Driver, Kysely, PostgresDialect, SqliteDialect, type SqliteDatabase, type SqliteDialectConfig, SqliteDriver } from 'kysely';
import { migrate } from './migrate.ts';
import { numberPlaceholders, type WriteFn } from './read.ts';
import type { Database } from './schema.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface Storage {
  db: Kysely<Database>;
  dialect: DialectName;
  /**
   * A read for the protocol's hot paths, written once in SQL that both databases accept (`?`
   * placeholders): it skips the query builder, and on SQLite runs the cached statement directly.
   * Reads only: on SQLite it shares the one connection, outside any transaction's bookkeeping.
   */
  read<R>(sql: string, parameters: readonly unknown[]): Promise<R[]>;
  /**
   * A write for the protocol's hot paths (tokens, codes, sessions; audit events), in the same SQL:
   * resolves once committed, to the number of rows changed. On SQLite, writes that arrive in the
   * same turn of the event loop share one transaction (group commit). Never call it from inside a
   * transaction: it waits for the connection that transaction holds.
   */
  write: WriteFn;
  close(): Promise<void>;
}

/**
 * PostgreSQL could not be reached or refused the connection (down, wrong host or port, wrong
 * password, no such database). The message names GATEHOUSE_DATABASE_URL and where it points, never
 * its password; the command line prints it as one line.
 */
export class DatabaseUnreachableError extends Error {
  constructor(databaseUrl: string, cause: unknown) {
    const e = cause as { message?: string; code?: string; errors?: { message?: string }[] };
    // A host name with several addresses fails with an AggregateError whose own message is empty.
    const reason = e.message || e.errors?.[0]?.message || e.code || String(cause);
    super(`GATEHOUSE_DATABASE_URL: cannot connect to PostgreSQL at ${describeDatabaseUrl(databaseUrl)}: ${reason.replace(/\s*\n\s*/g, ' ')}`, { cause });
    this.name = 'DatabaseUnreachableError';
  }
}

/** host:port/database, without user or password. */
function describeDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname}`;
  } catch {
    return 'the configured address';
  }
}

export interface StorageOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
}


/**
 * Transactions take SQLite's write lock when they begin (BEGIN IMMEDIATE, which waits through the
 * busy timeout). Kysely's plain BEGIN defers it to the first write, and in WAL mode a transaction
 * that has read while another process committed cannot take it then: it fails at once with
 * "database is locked", busy timeout or not. Every transaction here is there to write.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

/** Compiles each SQL text once. Bounded, since ad-hoc queries (varying filters) produce new texts. */
function statementCache(database: DatabaseSync) {
  const statements = new Map<string, { statement: StatementSync; reader: boolean }>();
  const MAX_STATEMENTS = 500;
  return (sql: string) => {
    let entry = statements.get(sql);
    if (!entry) {
      const statement = database.prepare(sql);
      entry = { statement, reader: statement.columns().length > 0 };
      if (statements.size >= MAX_STATEMENTS) statements.delete(statements.keys().next().value as string);
      statements.set(sql, entry);
    }
    return entry;
  };
}

/** node:sqlite speaks a slightly different statement API from the better-sqlite3 one Kysely expects. */
function wrapNodeSqlite(database: DatabaseSync, cached: ReturnType<typeof statementCache>): SqliteDatabase {
  return {
    close: () => database.close(),
    prepare(sql: string) {
      const { statement, reader } = cached(sql);
      return {
        reader,
        all: (parameters) => statement.all(...(parameters as SQLInputValue[])),
        run: (parameters) => statement.run(...(parameters as SQLInputValue[])),
        // A streaming read keeps its statement busy until it ends: give it one of its own.
        iterate: (parameters) => database.prepare(sql).iterate(...(parameters as SQLInputValue[])),
      };
    },
  };
}

interface PendingWrite {
  sql: string;
  parameters: readonly unknown[];
  resolve(changes: number): void;
  reject(error: unknown): void;
}

/**
 * Group commit for SQLite. Each commit costs a write of every page it touched to the WAL (and, now
 * and then, a checkpoint), and node:sqlite does it on the event loop: one commit per token, code
 * and audit row was about a fifth of a code exchange's CPU. Writes queued while requests are being
 * handled are committed together right after (setImmediate), one transaction for all of them; each
 * caller still learns its own outcome. The connection is taken through Kysely, so a batch never
 * lands inside a transaction another caller has open on the shared connection.
 */
function groupCommit(db: Kysely<Database>, database: DatabaseSync, cached: ReturnType<typeof statementCache>) {
  let queue: PendingWrite[] = [];
  let flushing: Promise<void> | undefined;

  function commitBatch(batch: PendingWrite[]): void {
    cached('begin immediate').statement.run();
    const outcomes: Array<{ changes: number } | { error: unknown }> = [];
    try {
      for (const entry of batch) {
        // A failing statement (a constraint) is undone by itself; the others stand.
        try {
          outcomes.push({ changes: Number(cached(entry.sql).statement.run(...(entry.parameters as SQLInputValue[])).changes) });
        } catch (error) {
          outcomes.push({ error });
        }
      }
      // Some errors (disk full, I/O) roll the whole transaction back: then nothing was written.
      if (!database.isTransaction) throw new Error('the write transaction was rolled back');
      cached('commit').statement.run();
    } catch (error) {
      if (database.isTransaction) cached('rollback').statement.run();
      throw error;
    }
    batch.forEach((entry, index) => {
      const outcome = outcomes[index];
      if (outcome && 'changes' in outcome) entry.resolve(outcome.changes);
      else entry.reject(outcome?.error);
    });
  }

  async function flush(): Promise<void> {
    const batch = queue;
    queue = [];
    try {
      await db.connection().execute(async () => commitBatch(batch));
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }

  function schedule(): void {
    flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(flush)
      .finally(() => {
        flushing = undefined;
        if (queue.length) schedule();
      });
  }

  return {
    write(sql: string, parameters: readonly unknown[]): Promise<number> {
      return new Promise<number>((resolve, reject) => {
        queue.push({ sql, parameters, resolve, reject });
        if (!flushing) schedule();
      });
    },
    /** Waits until every write queued so far is committed (or refused). */
    async drain(): Promise<void> {
      while (flushing) await flushing;
    },
  };
}

export async function openStorage(options: StorageOptions): Promise<Storage> {
  let storage: Storage;
  if (options.databaseUrl) {
    // Loaded only for PostgreSQL: a SQLite installation never needs the driver.
    const { default: pg } = await import('pg');
    // int8 (bigint) columns hold epoch seconds; they fit a JS number, so parse them as one.
    pg.types.setTypeParser(20, (value: string) => Number(value));
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 10 });
    // An idle connection dropped by the server (restart, failover) must not take the process down;
    // the pool replaces it on next use.
    pool.on('error', () => {});
    // Connect once before anything else, so that an unreachable server is reported as such.
    try {
      (await pool.connect()).release();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new DatabaseUnreachableError(options.databaseUrl, error);
    }
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const placeholders = numberPlaceholders();
    storage = {
      db,
      dialect: 'postgres',
      read: async <R>(sql: string, parameters: readonly unknown[]) => (await pool.query(placeholders(sql), parameters as unknown[])).rows as R[],
      // PostgreSQL groups concurrent commits itself, and the pool runs them side by side.
      write: async (sql: string, parameters: readonly unknown[]) => (await pool.query(placeholders(sql), parameters as unknown[])).rowCount ?? 0,
      close: () => db.destroy(),
    };
  } else {
    mkdirSync(options.dataDir, { recursive: true });
    const database = new DatabaseSync(join(options.dataDir, 'gatehouse.db'));
    // WAL lets the CLI write while the server reads; the busy timeout serialises concurrent writers.
    // busy_timeout first: switching to WAL itself needs a lock another process may hold.
    database.exec('PRAGMA busy_timeout = 5000;');
    // Even so, switching a new file to WAL can fail with SQLITE_BUSY without consulting the busy
    // handler while another process opens it at the same moment: retry for a while.
    for (let attempt = 0; ; attempt++) {
      try {
        database.exec('PRAGMA journal_mode = WAL;');
        break;
      } catch (error) {
        if (attempt >= 100 || !/locked|busy/i.test(String(error))) throw error;
        await sleep(20);
      }
    }
    // Hot pages stay in SQLite's own page cache (16 MiB at most, outside the JS heap), which the one connection
    // keeps across its transactions: as fast as the 256 MiB memory map used before (an A/B of the token,
    // userinfo and introspection rows), without the mapped file counting towards the process's memory
    // once traffic has touched it (316 MB of resident pages with 100,000 sessions).
    database.exec('PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16000;');
    const cached = statementCache(database);
    const db = new Kysely<Database>({ dialect: new ImmediateSqliteDialect({ database: wrapNodeSqlite(database, cached) }) });
    const writes = groupCommit(db, database, cached);
    storage = {
      db,
      dialect: 'sqlite',
      read: async <R>(sql: string, parameters: readonly unknown[]) => cached(sql).statement.all(...(parameters as SQLInputValue[])) as R[],
      write: writes.write,
      async close() {
        await writes.drain();
        await db.destroy();
      },
    };
  }
  try {
    await migrate(storage.db, storage.dialect);
  } catch (error) {
    await storage.close();
    throw error;
  }
  return storage;
}
