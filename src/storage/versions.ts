import type { ReadFn } from './read.ts';

/**
 * The counters of migrations 004 and 005 (SQLite only), read together: what lets a node keep
 * directory data and token rows in memory and still see every change, its own or another
 * process's, on the next request.
 */
export interface Versions {
  directory: number;
  payloads: number;
}

const BOTH = 'select d.version as directory, p.version as payloads from directory_version d, payload_version p where d.id = 1 and p.id = 1';

/** One read per unit of work: `memo` shares it (the OIDC layer passes one request's memo). */
export function createVersionReader(read: ReadFn, memo: <T>(key: string, load: () => Promise<T>) => Promise<T>): () => Promise<Versions> {
  return () => memo('versions', async () => (await read<Versions>(BOTH, []))[0] ?? { directory: Number.NaN, payloads: Number.NaN });
}

/**
 * Values loaded from the database, kept while one of those counters stands: all forgotten when it
 * moves, and bounded (past `max` entries it starts again rather than grow).
 */
export function createVersionedCache<V>(max: number) {
  let version = Number.NaN;
  const entries = new Map<string, V>();
  const sync = (current: number) => {
    if (current !== version) {
      version = current;
      entries.clear();
    }
  };
  return {
    /** The kept value, else `load()` — kept if `keep` agrees and the counter has not moved meanwhile. */
    async get(current: number, key: string, load: () => Promise<V>, keep: (value: V) => boolean = () => true): Promise<V> {
      sync(current);
      if (entries.has(key)) return entries.get(key) as V;
      const value = await load();
      // Loaded after the counter was read, so at least that fresh.
      if (version === current && keep(value)) {
        if (entries.size >= max) entries.clear();
        entries.set(key, value);
      }
      return value;
    },
    /** The kept value, without loading. */
    peek(current: number, key: string): V | undefined {
      sync(current);
      return entries.get(key);
    },
    forget(key: string): void {
      entries.delete(key);
    },
    clear(): void {
      entries.clear();
    },
  };
}
