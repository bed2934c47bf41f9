import type { Runtime } from '../runtime.ts';
import { type AppOptions, buildApp } from './app.ts';

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** Listens on the configured host and port (0 picks a free one) and returns the address it got. */
export async function startServer(runtime: Runtime, options: AppOptions = {}): Promise<RunningServer> {
  const app = await buildApp(runtime, options);
  await app.listen({ port: runtime.config.port, host: runtime.config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : runtime.config.port;
  const host = runtime.config.host.includes(':') ? `[${runtime.config.host}]` : runtime.config.host;
  return { url: `http://${host}:${port}`, close: () => app.close() };
}
