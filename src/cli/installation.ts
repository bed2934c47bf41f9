import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.ts';
import { shellQuote } from './command.ts';

/** The SQLite database file in a data directory; its presence is what makes the directory a Gatehouse one. */
export const DATABASE_FILE = 'gatehouse.db';
/** The generated root secret, when GATEHOUSE_SECRET_KEY does not give one. */
export const SECRET_KEY_FILE = 'secret.key';

/** The data directory holds no Gatehouse installation (a typo, most likely). Bad input: exit status 2. */
export class NotInstalledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotInstalledError';
  }
}

/**
 * Refuses a data directory that holds no Gatehouse installation, before anything is created in it.
 * On SQLite that is the database file; on PostgreSQL the directory holds only the secret key, which
 * must be there unless GATEHOUSE_SECRET_KEY gives it (a new one would not open the stored signing keys).
 */
export function requireInstallation(config: Config, dataDirFlag: boolean): void {
  const init = `gatehouse init${dataDirFlag ? ` --data-dir ${shellQuote(config.dataDir)}` : ''}`;
  const check = 'check --data-dir / GATEHOUSE_DATA_DIR';
  if (!config.databaseUrl) {
    if (!existsSync(join(config.dataDir, DATABASE_FILE))) {
      throw new NotInstalledError(`no Gatehouse database in ${config.dataDir} (${check}, or create one with: ${init})`);
    }
    return;
  }
  if (!config.secretKey && !existsSync(join(config.dataDir, SECRET_KEY_FILE))) {
    throw new NotInstalledError(
      `no Gatehouse secret key in ${config.dataDir}, which the PostgreSQL database needs (${check}, set GATEHOUSE_SECRET_KEY, or create one with: ${init})`,
    );
  }
}
