import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandSpec, hint } from './command.ts';
import { DATABASE_FILE, SECRET_KEY_FILE } from './installation.ts';

/**
 * Creates a Gatehouse installation: the data directory, the database (SQLite there, or the tables in
 * GATEHOUSE_DATABASE_URL's PostgreSQL), the secret key file (unless GATEHOUSE_SECRET_KEY gives one)
 * and the first signing keys. The one command besides serve that may create a data directory, so
 * that a mistyped --data-dir elsewhere is refused instead of becoming an empty installation.
 */
export const initCommand: CommandSpec = {
  name: 'init',
  summary: 'Create the data directory, the database and the secret key (serve does this too); says what it created.',
  createsDataDir: true,
  async run(ctx) {
    const { config } = ctx;
    const database = config.databaseUrl ? undefined : join(config.dataDir, DATABASE_FILE);
    const secretKey = config.secretKey ? undefined : join(config.dataDir, SECRET_KEY_FILE);
    const had = { dir: existsSync(config.dataDir), database: database !== undefined && existsSync(database), secretKey: secretKey !== undefined && existsSync(secretKey) };
    await ctx.runtime();
    const created = config.databaseUrl ? secretKey !== undefined && !had.secretKey : !had.database;
    const data = {
      created,
      data_dir: config.dataDir,
      database: database ?? 'postgresql (GATEHOUSE_DATABASE_URL)',
      secret_key: secretKey ?? 'GATEHOUSE_SECRET_KEY',
    };
    const next = `Next: create the first administrator with ${hint(ctx, 'users create --username USERNAME --email EMAIL --password-stdin --role administrator_with_billing')}, then run ${hint(ctx, 'serve')}`;
    const keyNote = secretKey ? `secret key ${secretKey}${had.secretKey ? ' (already there)' : ' (keep it private; back it up apart from the database)'}` : 'secret key from GATEHOUSE_SECRET_KEY';
    const lines: string[] = [];
    if (database) {
      if (!created) lines.push(`${config.dataDir} already holds a Gatehouse database; nothing to do.`);
      else lines.push(`${had.dir ? `Created a Gatehouse database in ${config.dataDir}` : `Created the Gatehouse data directory ${config.dataDir}`}: database ${database}, ${keyNote}.`, next);
    } else {
      lines.push(`The PostgreSQL database of GATEHOUSE_DATABASE_URL holds Gatehouse's tables (created or up to date); ${keyNote}.`, next);
    }
    return { data, text: lines.join('\n') };
  },
};
