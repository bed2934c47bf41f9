import { CompiledQuery, type Kysely, PostgresAdapter } from 'kysely';

/** A read in plain SQL with `?` placeholders, which both databases accept once numbered for PostgreSQL. */
export type ReadFn = <R>(sql: string, parameters: readonly unknown[]) => Promise<R[]>;

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
