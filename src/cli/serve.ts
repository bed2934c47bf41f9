import cluster, { type Worker } from 'node:cluster';
import { existsSync, rmdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config/config.ts';
import { CONSOLE_PATH } from '../directory/console-app.ts';
import { CliFailure, type CommandSpec, type Context, hint } from './command.ts';
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

/** --workers: a whole number, 0 for one per CPU; default 1 (no cluster at all). */
function workerCount(ctx: Context): number {
  const text = ctx.string('workers');
  if (text === undefined) return 1;
  if (!/^\d+$/.test(text)) throw ctx.usage(`--workers must be a whole number (0 = one per CPU), not "${text}"`);
  const count = Number(text);
  return count === 0 ? availableParallelism() : count;
}

type WorkerMessage = { type: 'listening'; url: string };

/** A worker of `serve --workers N`: the server on the port the primary shares; the primary tells it when to stop. */
async function runWorker(ctx: Context): Promise<void> {
  const { startServer } = await loadServer();
  // Ctrl-C reaches the whole process group: the primary decides, and sends SIGTERM.
  process.on('SIGINT', () => {});
  const stopped = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  const runtime = await ctx.runtime();
  const server = await startServer(runtime);
  process.send?.({ type: 'listening', url: server.url } satisfies WorkerMessage);
  await stopped;
  await server.close();
  // The channel to the primary would keep this process alive after the command ends.
  cluster.worker?.disconnect();
}

/**
 * The primary of `serve --workers N`: prepares the data (migrations, keys) once, forks N workers that
 * each run the server on the shared port, replaces a worker that dies (waiting longer each time it
 * happens in quick succession), and on SIGINT/SIGTERM stops them all before it exits.
 */
async function runPrimary(ctx: Context, count: number): Promise<void> {
  const log = (line: string) => ctx.io.stderr.write(`${line}\n`);
  const stopped = untilSignal();
  let stopping = false;
  let backoffMs = 0;
  const startedAt = new Map<Worker, number>();
  // Announced once every worker listens (later replacements report too, unheard).
  const listening = new Promise<string>((resolve) => {
    let ready = 0;
    cluster.on('message', (_worker, message: WorkerMessage) => {
      if (message?.type === 'listening' && ++ready === count) resolve(message.url);
    });
  });
  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker, Date.now());
    worker.once('listening', () => log(`worker ${worker.id} (pid ${worker.process.pid}) listening`));
  };
  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (stopping) return;
    // A worker that ran a while died of something passing: replace it at once; one that keeps dying, ever more slowly.
    backoffMs = lived > 30_000 ? 0 : Math.min(Math.max(backoffMs * 2, 250), 30_000);
    log(`worker ${worker.id} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}); starting another${backoffMs ? ` in ${backoffMs} ms` : ''}`);
    setTimeout(() => {
      if (!stopping) fork();
    }, backoffMs).unref();
  });
  for (let i = 0; i < count; i++) fork();
  const url = await Promise.race([listening, stopped.then(() => undefined)]);
  if (url !== undefined) {
    ctx.io.stdout.write(`Gatehouse listening on ${url} (issuer ${ctx.config.issuer}) with ${count} workers\n`);
    await stopped;
  }
  stopping = true;
  log(`Stopping ${startedAt.size} workers.`);
  const exits = [...startedAt.keys()].map((worker) => new Promise<void>((resolve) => (worker.isDead() ? resolve() : worker.once('exit', () => resolve()))));
  for (const worker of startedAt.keys()) worker.process.kill('SIGTERM');
  await Promise.all(exits);
}

export const serveCommand: CommandSpec = {
  name: 'serve',
  summary: 'Run Gatehouse: the OpenID Connect provider and its sign-in pages. Stops cleanly on SIGINT or SIGTERM.',
  configFlags: ['port', 'host', 'issuer'],
  createsDataDir: true,
  options: {
    workers: {
      type: 'string',
      value: 'N',
      description: 'Processes serving on the one port (node:cluster), all on the same database: 0 = one per CPU (default 1, no cluster).',
    },
  },
  async run(ctx) {
    if (cluster.isWorker) {
      await runWorker(ctx);
      return undefined;
    }
    const workers = workerCount(ctx);
    const { startServer } = await loadServer();
    await probeListen(ctx.config);
    if (workers > 1) {
      // The data directory, migrations and signing keys, once, before the workers open the same database.
      const runtime = await ctx.runtime();
      await recordIssuer(runtime);
      await runPrimary(ctx, workers);
      return undefined;
    }
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
