import { existsSync, rmdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config/config.ts';
import { CONSOLE_PATH } from '../directory/console-app.ts';
import { CliFailure, type CommandSpec, hint } from './command.ts';
import { secretKeyBesideDatabase } from './secret-key-warning.ts';
import { DATABASE_FILE, SECRET_KEY_FILE } from './installation.ts';
import { recordIssuer } from './issuer.ts';

type ServerModule = typeof import('../http/server.ts');

/** Imported on demand: the other commands never load the HTTP layer. */
async function loadServer(): Promise<ServerModule> {
  try {
    return await import('../http/server.ts');
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message?.includes('http/server.ts')) {
      throw new CliFailure('The HTTP server is not part of this installation (src/http/server.ts is missing).');
    }
    throw error;
  }
}

/** Why the server could not listen, in one line. */
function listenProblem(error: NodeJS.ErrnoException, host: string, port: number): CliFailure {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new CliFailure(`${where} is already in use (another Gatehouse, or another program): choose another port with --port / GATEHOUSE_PORT`);
    case 'EACCES':
      return new CliFailure(`not allowed to listen on ${where} (ports below 1024 need privileges): choose another port with --port / GATEHOUSE_PORT`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new CliFailure(`cannot listen on ${where}: ${host} is not an address of this machine (--host / GATEHOUSE_HOST)`);
    default:
      return new CliFailure(`cannot listen on ${where}: ${error.message}`);
  }
}

/**
 * Listens on the configured address and lets go at once: a port in use (the common mistake) is
 * found before the data directory, database and secret key are created.
 */
function probeListen(config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(listenProblem(error, config.host, config.port)));
    probe.listen({ host: config.host, port: config.port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/**
 * Another program may still take the port between the probe and the real listen. Then remove what
 * this command created, and only that: the files it makes in a data directory that did not exist.
 */
function removeCreated(dataDir: string): void {
  for (const file of [DATABASE_FILE, `${DATABASE_FILE}-wal`, `${DATABASE_FILE}-shm`, SECRET_KEY_FILE]) rmSync(join(dataDir, file), { force: true });
  try {
    rmdirSync(dataDir);
  } catch {
    // Something else is in it now: leave it.
  }
}

/** Resolves on the first SIGINT or SIGTERM; a second one falls through to Node's default and ends the process. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'Run Gatehouse: the OpenID Connect provider and its sign-in pages. Stops cleanly on SIGINT or SIGTERM.',
  configFlags: ['port', 'host', 'issuer'],
  createsDataDir: true,
  async run(ctx) {
    const { startServer } = await loadServer();
    await probeListen(ctx.config);
    const dataDirExisted = existsSync(ctx.config.dataDir);
    let server: Awaited<ReturnType<typeof startServer>>;
    let runtime: Awaited<ReturnType<typeof ctx.runtime>>;
    try {
      runtime = await ctx.runtime();
      server = await startServer(runtime);
    } catch (error) {
      if (!dataDirExisted && existsSync(ctx.config.dataDir)) {
        // Closed first (main.ts closes it again, harmlessly), so that no file is still open.
        await (await ctx.runtime().catch(() => undefined))?.close().catch(() => undefined);
        removeCreated(ctx.config.dataDir);
      }
      const e = error as NodeJS.ErrnoException;
      throw e.syscall === 'listen' ? listenProblem(e, ctx.config.host, ctx.config.port) : error;
    }
    await recordIssuer(runtime);
    const users = await runtime.directory.users.list();
    const noAdministrator = !users.some((u) => u.role);
    const stopped = untilSignal();
    const { issuer } = runtime.config;
    const out = ctx.io.stdout;
    const keyWarning = secretKeyBesideDatabase(runtime.config);
    if (keyWarning) ctx.io.stderr.write(`${keyWarning}\n`);
    if (ctx.json) {
      out.write(`${JSON.stringify({ url: server.url, issuer, discovery_url: `${issuer}/.well-known/openid-configuration`, admin_console_url: `${issuer}${CONSOLE_PATH}/` })}\n`);
    } else {
      out.write(`Gatehouse listening on ${server.url} (issuer ${issuer})\n`);
      out.write(`Admin console: ${issuer}${CONSOLE_PATH}/\n`);
      if (users.length === 0) {
        out.write(`No users yet: create the first one with ${hint(ctx, 'users create --username USERNAME --email EMAIL --password-stdin --role administrator_with_billing')}\n`);
        out.write(`The role makes them the first administrator. API keys for the directory API (/api, documented at /api/docs) come from ${hint(ctx, 'api-keys create --owner USERNAME --name NAME')}\n`);
      } else if (noAdministrator) {
        out.write(`No administrator yet: make one with ${hint(ctx, 'users set-role USER administrator_with_billing')}\n`);
      }
    }
    const signal = await stopped;
    if (!ctx.json) ctx.io.stderr.write(`Received ${signal}, shutting down.\n`);
    await server.close();
  },
};
