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
