/**
 * Starts the real Gatehouse server on a loopback port with a fresh database of the given kind.
 * The issuer is the server's own URL, so relying-party libraries can discover and verify it.
 */
import { startServer } from '../../src/http/server.ts';
import { openRuntime, type Runtime } from '../../src/runtime.ts';
import { type DatabaseKind, freshConfig } from './databases.ts';
import { freePort } from './net.ts';

export interface TestGatehouse {
  issuer: string;
  runtime: Runtime;
  directory: Runtime['directory'];
  /** Stop the server but keep the database (to prove a restart loses nothing). */
  stop(): Promise<void>;
  /** Start it again on the same port and database. */
  restart(): Promise<void>;
  close(): Promise<void>;
}


export async function startGatehouse(kind: DatabaseKind): Promise<TestGatehouse> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { config, cleanup } = await freshConfig(kind, { issuer, port, host: '127.0.0.1' });
  let runtime = await openRuntime(config);
  // GATEHOUSE_TEST_CONSOLE_DIST: a console built elsewhere (vite build --outDir), for work on the console.
  const consoleDist = process.env.GATEHOUSE_TEST_CONSOLE_DIST;
  const options = { logLevel: 'warn', keyPollIntervalMs: 200, ...(consoleDist ? { consoleDist: consoleDist.endsWith('/') ? consoleDist : `${consoleDist}/` } : {}) };
  let server: Awaited<ReturnType<typeof startServer>> | undefined = await startServer(runtime, options);
  const handle: TestGatehouse = {
    issuer,
    runtime,
    directory: runtime.directory,
    async stop() {
      await server?.close();
      server = undefined;
      await runtime.close();
    },
    async restart() {
      runtime = await openRuntime(config);
      handle.runtime = runtime;
      handle.directory = runtime.directory;
      server = await startServer(runtime, options);
    },
    async close() {
      if (server) await handle.stop();
      await cleanup();
    },
  };
  return handle;
}
