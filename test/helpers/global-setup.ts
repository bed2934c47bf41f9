/**
 * Global setup for `node --test --test-global-setup=test/helpers/global-setup.ts`.
 *
 * The runner calls globalSetup once, in its own process, before it starts any test file. The
 * environment variables set here are inherited by the child process of each test file. Setup:
 *  - GATEHOUSE_TEST_POSTGRES_URL already set: use that server, start nothing.
 *  - PostgreSQL binaries found: initdb a throwaway cluster in a fresh temp directory, start it on
 *    127.0.0.1 at a free port (durability off, which is fine for tests), and export its URL.
 *  - No PostgreSQL: with CI=true this is an error (CI must never skip PostgreSQL quietly); otherwise
 *    the variable stays unset and test/helpers/databases.ts skips PostgreSQL, giving the reason.
 * globalTeardown stops the cluster and removes its directory. An exit hook also kills the
 * server if the runner exits some other way.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { buildConsole } from '../../web/build.ts';
import { freePort } from './net.ts';

const URL_VARIABLE = 'GATEHOUSE_TEST_POSTGRES_URL';
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

const execFileAsync = promisify(execFile);

interface Cluster {
  dir: string;
  logFile: string;
  child: ChildProcess;
  exited: Promise<void>;
  url: string;
}

let cluster: Cluster | undefined;

const log = (message: string): void => {
  process.stderr.write(`[global-setup] ${message}\n`);
};

/** The directory holding initdb and postgres: the newest /usr/lib/postgresql/N/bin (Debian, Ubuntu), else PATH. */
function findPostgresBinDir(): string | undefined {
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((name) => existsSync(join(debianRoot, name, 'bin', 'initdb')) && existsSync(join(debianRoot, name, 'bin', 'postgres')))
      .sort((a, b) => Number(b) - Number(a) || b.localeCompare(a));
    if (versions[0] !== undefined) return join(debianRoot, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  }
  return undefined;
}

/** PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` account. */
function serverAccount(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  const fields = line?.split(':');
  if (!fields || fields[2] === undefined || fields[3] === undefined) {
    throw new Error('Running as root, but there is no "postgres" account in /etc/passwd to run PostgreSQL as.');
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** A temp root the postgres account can reach: os.tmpdir() unless that is closed to other users. */
function tempRoot(account: { uid: number } | undefined): string {
  const root = tmpdir();
  if (account && (statSync(root).mode & 0o001) === 0) return '/tmp';
  return root;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** True if the promise settled within ms; the timer never holds the process open. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function logTail(logFile: string, lines = 20): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

async function acceptsConnections(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Kill whatever is left at process exit (runner crash, signal): synchronous, best effort. */
function killAtExit(): void {
  if (!cluster) return;
  const { child, dir } = cluster;
  cluster = undefined;
  if (child.exitCode === null && child.signalCode === null) {
    try {
      // SIGQUIT: immediate shutdown; the postmaster takes its backends down with it.
      child.kill('SIGQUIT');
    } catch {}
  }
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch {}
}

async function startCluster(binDir: string): Promise<Cluster> {
  const account = serverAccount();
  const ids = account ? { uid: account.uid, gid: account.gid } : {};
  const dir = mkdtempSync(join(tempRoot(account), 'gatehouse-pg-'));
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'socket');
  const logFile = join(dir, 'server.log');
  mkdirSync(socketDir);
  if (account) {
    for (const path of [dir, socketDir]) chownSync(path, account.uid, account.gid);
  }
  // Run the server tools with a clean, predictable environment, in a directory they can read.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };

  try {
    const started = Date.now();
    await execFileAsync(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth-local=trust', '--auth-host=trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      { ...ids, cwd: dir, env },
    );

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const logFd = openSync(logFile, 'a', 0o644);
      if (account) chownSync(logFile, account.uid, account.gid);
      const child = spawn(
        join(binDir, 'postgres'),
        [
          '-D', dataDir,
          '-k', socketDir,
          '-h', '127.0.0.1',
          '-p', String(port),
          '-c', 'fsync=off',
          '-c', 'full_page_writes=off',
          '-c', 'synchronous_commit=off',
          '-c', 'max_connections=200',
          '-c', 'shared_buffers=32MB',
          '-c', 'log_min_messages=warning',
        ],
        { ...ids, cwd: dir, env, stdio: ['ignore', logFd, logFd] },
      );
      closeSync(logFd);
      // The runner must be able to exit even if teardown never gets to run; the exit hook kills the server.
      child.unref();
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.once('error', () => {});
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      cluster = { dir, logFile, child, exited, url };

      const deadline = Date.now() + START_TIMEOUT_MS;
      let ready = false;
      while (!ready && Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
        ready = await acceptsConnections(url);
        if (!ready) await sleep(100);
      }
      if (ready) {
        log(`PostgreSQL (${binDir}) ready on 127.0.0.1:${port} in ${Date.now() - started} ms`);
        return cluster;
      }
      const tail = logTail(logFile);
      const stillRunning = child.exitCode === null && child.signalCode === null;
      if (stillRunning) {
        child.kill('SIGKILL');
        await exited;
      }
      cluster = undefined;
      // Another process may have taken the port between our probe and the server's bind: try again.
      if (!stillRunning && /already in use/i.test(tail) && attempt < 3) continue;
      throw new Error(
        stillRunning
          ? `PostgreSQL did not accept connections within ${START_TIMEOUT_MS} ms. Server log:\n${tail}`
          : `PostgreSQL exited during startup (code ${child.exitCode}, signal ${child.signalCode}). Server log:\n${tail}`,
      );
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const e = error as { stderr?: string; message: string };
    throw new Error(`Could not start a throwaway PostgreSQL: ${e.stderr?.trim() || e.message}`, { cause: error });
  }
}

async function stopCluster(): Promise<void> {
  if (!cluster) return;
  const { child, exited, dir } = cluster;
  if (child.exitCode === null && child.signalCode === null) {
    // Hold the runner open until the server is gone (the child was unref'd at start).
    child.ref();
    // SIGINT: fast shutdown, disconnecting any client still connected.
    child.kill('SIGINT');
    if (!(await within(exited, STOP_TIMEOUT_MS))) {
      log(`PostgreSQL did not stop within ${STOP_TIMEOUT_MS} ms; killing it`);
      child.kill('SIGKILL');
      await within(exited, 2000);
    }
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  cluster = undefined;
}

export async function globalSetup(): Promise<void> {
  // Each test file is a process of its own that loads much of src/ again; with Node's compile cache
  // (as bin/gatehouse.js enables for the product) the later ones skip compiling and type stripping.
  if (!process.env.NODE_DISABLE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE ??= join(tmpdir(), 'node-compile-cache');
  // The console's browser tests and its static-serving tests need web/dist as the sources are now.
  // GATEHOUSE_TEST_SKIP_WEB_BUILD=1 leaves web/dist alone, for server-only runs while web sources are half-edited.
  if (process.env.GATEHOUSE_TEST_SKIP_WEB_BUILD === '1') log('web build skipped (GATEHOUSE_TEST_SKIP_WEB_BUILD=1)');
  else if (await buildConsole({ ifStale: true })) log('admin console rebuilt into web/dist');
  await startPostgres();
}

async function startPostgres(): Promise<void> {
  if (process.env[URL_VARIABLE]) {
    log(`using ${URL_VARIABLE} from the environment`);
    return;
  }
  const binDir = findPostgresBinDir();
  if (!binDir) {
    if (process.env.CI === 'true') {
      throw new Error(`CI=true but PostgreSQL is not installed (no initdb) and ${URL_VARIABLE} is not set: PostgreSQL tests must not be skipped in CI.`);
    }
    log(`PostgreSQL not found (no initdb) and ${URL_VARIABLE} unset: PostgreSQL tests will be skipped`);
    return;
  }
  process.once('exit', killAtExit);
  const started = await startCluster(binDir);
  process.env[URL_VARIABLE] = started.url;
}

export async function globalTeardown(): Promise<void> {
  await stopCluster();
}
