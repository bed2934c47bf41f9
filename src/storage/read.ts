import { CompiledQuery, type Kysely, PostgresAdapter } from 'kysely';

/** A read in plain SQL with `?` placeholders, which both databases accept once numbered for PostgreSQL. */
export type ReadFn = <R>(sql: string, parameters: readonly unknown[]) => Promise<R[]>;

/** A write (insert, update, delete) in the same plain SQL: resolves, once committed, to the number of rows it changed. */
export type WriteFn = (sql: string, parameters: readonly unknown[]) => Promise<number>;

/** `?` placeholders become PostgreSQL's `$1, $2, …` (the SQL given here has no `?` inside literals). */
export function numberPlaceholders(): (sql: string) => string {
  const converted = new Map<string, string>();
  return (sql) => {
    let text = converted.get(sql);
    if (text === undefined) {
      let n = 0;
      text = sql.replace(/\?/g, () => `$${++n}`);
      converted.set(sql, text);
    }
    return text;
  };
}

/** The same reads through Kysely, for a database handle (or transaction) without a faster path. */
export function readThrough(db: Kysely<unknown>): ReadFn {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const placeholders = numberPlaceholders();
  return async <R>(text: string, parameters: readonly unknown[]) =>
    (await db.executeQuery<R>(CompiledQuery.raw(postgres ? placeholders(text) : text, [...parameters]))).rows as R[];
}

/** The same writes through Kysely, each its own statement. */
export function writeThrough(db: Kysely<unknown>): WriteFn {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const placeholders = numberPlaceholders();
  return async (text: string, parameters: readonly unknown[]) =>
    Number((await db.executeQuery(CompiledQuery.raw(postgres ? placeholders(text) : text, [...parameters]))).numAffectedRows ?? 0);
}
