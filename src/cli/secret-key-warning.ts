import { join } from 'node:path';
import type { Config } from '../config/config.ts';

const LOOPBACK_HOST = /^(localhost|.+\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * A copy of the data directory (a backup, a disk) holds the SQLite database and, unless
 * GATEHOUSE_SECRET_KEY is set, the secret key that opens what is sealed in it (signing keys, session
 * ids) and signs cookies. On a server others use (an issuer that is not loopback) `serve` says so.
 */
export function secretKeyBesideDatabase(config: Pick<Config, 'secretKey' | 'databaseUrl' | 'dataDir' | 'issuer'>): string | undefined {
  if (config.secretKey || config.databaseUrl || LOOPBACK_HOST.test(new URL(config.issuer).hostname)) return undefined;
  return `Warning: the secret key ${join(config.dataDir, 'secret.key')} sits beside the database, so a copy of the data directory can open what is sealed in it; in production set GATEHOUSE_SECRET_KEY instead (README, Configuration).`;
}
