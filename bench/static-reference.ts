/**
 * The reference for the discovery and JWKS rows: a bare node:http server that answers the same
 * bytes, with the same headers, as the Gatehouse it copies them from (fetched once, at start). What
 * answering those two documents costs with no framework at all: the ceiling Gatehouse is held to.
 *
 * Run as a child process: `--serve <Gatehouse issuer>`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ChildServer, type TargetInfo, serveInChild, startChild } from './lib.ts';

/** Describe the connection or the moment: node:http sets its own. */
const PER_RESPONSE = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

async function copy(url: string): Promise<{ body: Buffer; headers: Record<string, string> }> {
  const response = await fetch(url, { headers: { 'accept-encoding': 'identity' } });
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  const headers = Object.fromEntries([...response.headers].filter(([name]) => !PER_RESPONSE.has(name)));
  return { body: Buffer.from(await response.arrayBuffer()), headers };
}

async function serve(source: string): Promise<{ info: TargetInfo; close(): Promise<void> }> {
  const discoveryPath = '/.well-known/openid-configuration';
  const discovery = await copy(`${source}${discoveryPath}`);
  const jwksUri = (JSON.parse(discovery.body.toString()) as { jwks_uri: string }).jwks_uri;
  const jwksPath = new URL(jwksUri).pathname;
  const documents = new Map([
    [discoveryPath, discovery],
    [jwksPath, await copy(jwksUri)],
  ]);
  const server = createServer((request, response) => {
    const url = request.url ?? '';
    const query = url.indexOf('?');
    const document = documents.get(query === -1 ? url : url.slice(0, query));
    if (!document) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { ...document.headers, 'content-length': document.body.length });
    response.end(document.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    // Only the two documents: no client, no sign-in.
    info: { name: 'bare node:http', issuer: `http://127.0.0.1:${port}`, clientId: '', clientSecret: '', redirectUri: '', username: '', password: '', scope: '' },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function startStaticReference(source: string, execArgv: string[] = []): Promise<ChildServer> {
  return startChild(new URL(import.meta.url), ['--serve', source], { execArgv });
}

if (import.meta.main && process.argv[2] === '--serve') {
  const source = process.argv[3];
  if (!source) throw new Error('--serve <Gatehouse issuer>');
  await serveInChild(() => serve(source));
}
