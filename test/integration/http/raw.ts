/**
 * Raw HTTP for the tests that send what fetch won't (a forged or invalid Host header), with a cookie
 * jar, and a server started with a configuration of the test's choosing. Not a test file itself.
 */
import { request } from 'node:http';
import type { Config } from '../../../src/config/config.ts';
import { startServer } from '../../../src/http/server.ts';
import { openRuntime, type Runtime } from '../../../src/runtime.ts';
import { storeSetCookies } from '../../helpers/browser.ts';
import { type DatabaseKind, freshConfig } from '../../helpers/databases.ts';
import { freePort } from '../../helpers/net.ts';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  location: string | undefined;
  setCookies: string[];
  text: string;
}

/** Sends exactly the given headers (Host included: node:http sets none of its own when one is given). */
export function raw(serverUrl: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string; jar?: Map<string, string> } = {}): Promise<RawResponse> {
  const url = new URL(serverUrl);
  const headers: Record<string, string> = { host: url.host, accept: 'text/html,*/*;q=0.8', ...options.headers };
  if (options.jar?.size) headers.cookie = [...options.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded';
    headers['content-length'] = String(Buffer.byteLength(options.body));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const setCookies = res.headers['set-cookie'] ?? [];
        if (options.jar) storeSetCookies(options.jar, setCookies);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, location: res.headers.location, setCookies, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

export interface ConfiguredServer {
  url: string;
  issuer: string;
  runtime: Runtime;
  close(): Promise<void>;
}

/** A server on a loopback port whose issuer is its own URL unless the overrides name another. */
export async function startConfigured(kind: DatabaseKind, overrides: Partial<Config> = {}): Promise<ConfiguredServer> {
  const port = await freePort();
  const issuer = overrides.issuer ?? `http://127.0.0.1:${port}`;
  const { config, cleanup } = await freshConfig(kind, { port, host: '127.0.0.1', ...overrides, issuer });
  const runtime = await openRuntime(config);
  const server = await startServer(runtime, { logLevel: 'warn', keyPollIntervalMs: 200 });
  return {
    url: server.url,
    issuer: config.issuer,
    runtime,
    async close() {
      await server.close();
      await runtime.close();
      await new Promise((resolve) => setTimeout(resolve, 150));
      await cleanup();
    },
  };
}
