/**
 * Gatehouse as several processes, started the way an operator starts them (bin/gatehouse.js):
 *  - `workers`: `gatehouse serve --workers N` on one SQLite data directory: the product's own
 *    node:cluster primary and workers (src/cli/serve.ts), all on one port;
 *  - `nodes`: N separate `gatehouse serve` processes on one PostgreSQL database, each on a port of
 *    its own, as behind a load balancer. They share what such nodes must share: the issuer (the
 *    public URL; here the first node's address stands for the balancer's, since the issuer otherwise
 *    follows each node's --port) and the secret key (GATEHOUSE_SECRET_KEY; each node has a data
 *    directory of its own). The load generator spreads its connections over the nodes' ports.
 * Run as a child process of bench/run.ts (`--serve-scaled workers|nodes N`), like bench/gatehouse.ts:
 * it seeds the same user and app, starts the processes, and answers the orchestrator's CPU questions
 * with the sum over every process of the server (primary, workers, nodes), from /proc/<pid>/stat.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRuntime } from '../src/runtime.ts';
import { freshConfig } from '../test/helpers/databases.ts';
import { environmentWithoutGatehouse } from '../test/helpers/environment.ts';
import { BENCH_USER, REDIRECT_URI, SCOPE, seedBenchData } from './gatehouse.ts';
import { type ChildServer, type TargetInfo, freePort, serveInChild, startChild } from './lib.ts';

const BIN = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

export type ScaleMode = 'workers' | 'nodes';

/**
 * CPU time (user + system of all threads, plus that of children already waited for; ms) of these
 * processes and all their descendants (a cluster's workers), from /proc/<pid>/stat. Linux only.
 */
export function processTreeCpuMs(roots: number[]): number {
  const processes = new Map<number, { parent: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // After "pid (comm) ": state ppid … utime stime cutime cstime (fields 3, 4, 14–17); comm may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
    processes.set(Number(entry), { parent: Number(fields[1]), ticks });
  }
  const children = new Map<number, number[]>();
  for (const [pid, { parent }] of processes) children.set(parent, [...(children.get(parent) ?? []), pid]);
  let ticks = 0;
  const pending = [...roots];
  const seen = new Set<number>();
  while (pending.length) {
    const pid = pending.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += processes.get(pid)?.ticks ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  return ticks * 10; // USER_HZ = 100
}

/** Distinct free loopback ports. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** Error lines (pino level 50 and up) the servers logged: a failed request's cause. */
let errorsLogged = 0;

/** `gatehouse serve …` as its own process; resolves once its stdout says it listens. Its output is kept, its stderr passed on. */
async function startServe(args: string[], env: NodeJS.ProcessEnv, execArgv: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...execArgv, BIN, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout = (stdout + chunk).slice(-20_000)));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
    errorsLogged += chunk.match(/"level":[56]\d\b/g)?.length ?? 0;
    process.stderr.write(chunk);
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!ready.test(stdout)) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gatehouse serve ${args.join(' ')} did not start (${child.exitCode ?? child.signalCode ?? 'timed out'}):\n${stdout}\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

/** SIGTERM, as an operator stops it (a cluster's primary stops its workers first); SIGKILL if it hangs. */
async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

async function serveScaled(mode: ScaleMode, count: number, execArgv: string[]): Promise<{ info: TargetInfo; close(): Promise<number>; cpuMs(): number }> {
  const ports = await freePorts(mode === 'nodes' ? count : 1);
  const origins = ports.map((port) => `http://127.0.0.1:${port}`);
  const issuer = origins[0] as string;
  const secretKey = randomBytes(32).toString('base64url');
  const { config, cleanup } = await freshConfig(mode === 'workers' ? 'sqlite' : 'postgres', { issuer, port: ports[0] as number, host: '127.0.0.1', secretKey });
  const children: ChildProcess[] = [];
  const close = async () => {
    await Promise.all(children.map(stopServe));
    await cleanup();
    // A non-zero status makes the orchestrator print this process's stderr, where the servers' log went.
    if (errorsLogged) process.stderr.write(`gatehouse serve logged ${errorsLogged} errors (above)\n`);
    return errorsLogged ? 1 : 0;
  };
  try {
    const runtime = await openRuntime(config);
    let client: { clientId: string; clientSecret: string };
    try {
      client = await seedBenchData(runtime);
    } finally {
      await runtime.close();
    }
    // Only what an operator would set: none of this shell's other GATEHOUSE_* variables.
    const env: NodeJS.ProcessEnv = {
      ...environmentWithoutGatehouse(),
      GATEHOUSE_ISSUER: issuer,
      GATEHOUSE_SECRET_KEY: secretKey,
      GATEHOUSE_LOG_LEVEL: 'warn',
      ...(config.databaseUrl ? { GATEHOUSE_DATABASE_URL: config.databaseUrl } : {}),
    };
    const listen = (port: number) => ['--port', String(port), '--host', '127.0.0.1'];
    if (mode === 'workers') {
      const args = ['--workers', String(count), ...listen(ports[0] as number), '--data-dir', config.dataDir];
      children.push(await startServe(args, env, execArgv, new RegExp(`^Gatehouse listening on .* with ${count} workers$`, 'm')));
    } else {
      // One after the other: the first has nothing left to migrate either (the seeding did it), but a node's start is its own.
      for (const [index, port] of ports.entries()) {
        children.push(await startServe([...listen(port), '--data-dir', join(config.dataDir, `node-${index + 1}`)], env, execArgv, /^Gatehouse listening on /m));
      }
    }
    return {
      info: {
        name: `Gatehouse (${mode === 'workers' ? `SQLite, serve --workers ${count}` : `PostgreSQL, ${count} nodes`})`,
        issuer,
        ...client,
        redirectUri: REDIRECT_URI,
        username: BENCH_USER.username,
        password: BENCH_USER.password,
        scope: SCOPE,
        ...(mode === 'nodes' ? { origins } : {}),
      },
      close,
      cpuMs: () => processTreeCpuMs(children.map((child) => child.pid as number)),
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `--workers N` on SQLite, or N nodes on the PostgreSQL server named by GATEHOUSE_BENCH_DATABASE_URL. */
export function startScaledGatehouse(mode: ScaleMode, count: number, execArgv: string[] = []): Promise<ChildServer> {
  const env = { ...process.env };
  if (mode === 'nodes') {
    const url = process.env.GATEHOUSE_BENCH_DATABASE_URL;
    if (!url) throw new Error('GATEHOUSE_BENCH_DATABASE_URL is not set');
    env.GATEHOUSE_TEST_POSTGRES_URL = url; // test/helpers/databases.ts makes (and drops) a fresh database there
  }
  // This process only starts and watches the servers: profiling, when asked, is for theirs (cluster workers inherit it).
  return startChild(new URL(import.meta.url), ['--serve-scaled', mode, String(count), JSON.stringify(execArgv)], { env });
}

if (import.meta.main && process.argv[2] === '--serve-scaled') {
  const [mode, count, execArgv] = process.argv.slice(3);
  if (mode !== 'workers' && mode !== 'nodes') throw new Error(`--serve-scaled workers|nodes, not ${mode}`);
  await serveInChild(() => serveScaled(mode, Number(count), JSON.parse(execArgv ?? '[]') as string[]));
}
