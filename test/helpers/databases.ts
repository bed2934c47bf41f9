/**
 * Fresh databases for tests that must pass on both storage back ends. PostgreSQL comes from
 * GATEHOUSE_TEST_POSTGRES_URL (a server the test global setup starts, or one given from outside):
 * each freshConfig() creates its own database there, so test files can run in parallel.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type Config, loadConfig } from '../../src/config/config.ts';
import { type Runtime, openRuntime } from '../../src/runtime.ts';

export type DatabaseKind = 'sqlite' | 'postgres';

const POSTGRES_URL = process.env.GATEHOUSE_TEST_POSTGRES_URL || undefined;
const IN_CI = process.env.CI === 'true';

function postgresSkip(): string | false {
  if (POSTGRES_URL) return false;
  // In CI a missing server is a failure, not a skip: freshConfig('postgres') throws.
  if (IN_CI) return false;
  return 'PostgreSQL unavailable: GATEHOUSE_TEST_POSTGRES_URL is unset (install PostgreSQL and run via `npm test`, whose global setup starts one, or point the variable at a server)';
}

/** Each kind with false, or a reason string to pass as node:test's `skip` option when unavailable. */
export const DATABASE_KINDS: ReadonlyArray<{ kind: DatabaseKind; skip: string | false }> = [
  { kind: 'sqlite', skip: false },
  { kind: 'postgres', skip: postgresSkip() },
];

async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  if (!POSTGRES_URL) {
    throw new Error(
      'GATEHOUSE_TEST_POSTGRES_URL is not set' +
        (IN_CI ? ' but CI=true: PostgreSQL tests must not be skipped in CI (run node --test with --test-global-setup=test/helpers/global-setup.ts)' : ''),
    );
  }
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * pg's Pool.end() resolves before its idle connections have finished closing. Dropping WITH (FORCE)
 * at once would terminate them, and the pool would emit an unhandled 'error' in the test process.
 * So wait (briefly) for the database's sessions to go, and only then force what is left.
 */
async function dropWhenIdle(client: pg.Client, name: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const { rows } = await client.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
    if (rows[0]?.n === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** A fresh, empty database of that kind and a fresh temp data dir; cleanup drops/removes both. */
export async function freshConfig(kind: DatabaseKind, overrides?: Partial<Config>): Promise<{ config: Config; cleanup(): Promise<void> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-test-'));
  let databaseUrl: string | undefined;
  let dropDatabase: (() => Promise<void>) | undefined;
  try {
    if (kind === 'postgres') {
      const name = `gh_test_${randomBytes(8).toString('hex')}`;
      await withAdminClient((client) => client.query(`CREATE DATABASE ${name}`));
      dropDatabase = () => withAdminClient((client) => dropWhenIdle(client, name));
      const url = new URL(POSTGRES_URL as string);
      url.pathname = `/${name}`;
      databaseUrl = url.toString();
    }
    // An empty environment, so that the developer's GATEHOUSE_* variables don't leak into tests.
    const base = loadConfig({ dataDir, issuer: overrides?.issuer ?? 'http://127.0.0.1:0' }, {});
    const config: Config = { ...base, ...overrides, issuer: base.issuer, databaseUrl };
    let cleaned = false;
    return {
      config,
      async cleanup() {
        if (cleaned) return;
        cleaned = true;
        try {
          await dropDatabase?.();
        } finally {
          await rm(dataDir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await dropDatabase?.().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/** freshConfig plus an open runtime on it (migrated storage, directory, keys); cleanup closes it first. */
export async function freshRuntime(kind: DatabaseKind, overrides?: Partial<Config>): Promise<{ runtime: Runtime; config: Config; cleanup(): Promise<void> }> {
  const { config, cleanup } = await freshConfig(kind, overrides);
  let runtime: Runtime;
  try {
    runtime = await openRuntime(config);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    runtime,
    config,
    async cleanup() {
      try {
        await runtime.close();
      } finally {
        await cleanup();
      }
    },
  };
}
