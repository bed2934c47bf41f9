/**
 * Discovery and the JWKS, answered from bytes prepared once per provider build. The bytes (and the
 * headers that describe them) are what oidc-provider itself answers: fetched through its own
 * handler when the provider is (re)built, never written here. Only GET and HEAD are answered; every
 * other method (OPTIONS preflights, POST's 404) still goes to oidc-provider.
 */
import { hash } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';

/** A few minutes: discovery only changes with the issuer's configuration. */
export const DISCOVERY_MAX_AGE = 300;
/**
 * A relying party must never hold a JWKS that lacks the key that signs. A key is published as `next`
 * from one rotation and signs from the following one; so a rotation is safe once every cache made
 * before the previous rotation has expired: the key poll interval plus this max-age.
 */
export const JWKS_MAX_AGE = 60;
/** Right after a rotation (or the first start) an operator may rotate again soon: caches stay short. */
export const JWKS_MAX_AGE_AROUND_ROTATION = 10;
/** How long after the newest key appeared the JWKS keeps the shorter max-age. */
export const ROTATION_WINDOW_MS = 15 * 60_000;

/** Headers of the provider's answer that describe the connection or the request, not the document. */
const NOT_REPLAYED = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding', 'vary', 'etag', 'cache-control', 'content-encoding']);

interface Representation {
  body: Buffer;
  etag: string;
}

interface PreparedDocument {
  identity: Representation;
  /** Only when compressing saves at least a tenth. */
  gzip: Representation | undefined;
  /** The provider's own headers (content type, CSP, frame options…), without CORS, which is per request. */
  headers: Record<string, string>;
  cacheControl: () => string;
}

export interface PreparedDocuments {
  /** Answers GET/HEAD for the two paths and returns true; false for anything else (left to the caller). */
  serve(request: IncomingMessage, response: ServerResponse): boolean;
  /** The JWKS path, as discovery's jwks_uri names it. */
  jwksPath: string;
}

const tag = (body: Buffer, suffix = '') => `"${hash('sha256', body, 'base64url').slice(0, 27)}${suffix}"`;

function representations(body: Buffer): Pick<PreparedDocument, 'identity' | 'gzip'> {
  const identity = { body, etag: tag(body) };
  const compressed = gzipSync(body, { level: 9 });
  return { identity, gzip: compressed.length <= body.length * 0.9 ? { body: compressed, etag: tag(body, '-gzip') } : undefined };
}

/** Whether Accept-Encoding allows gzip (a gzip or * coding whose q is not 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const allowed = q === undefined || Number(q.slice(2)) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return allowed;
    if (coding === '*') star = allowed;
  }
  return star ?? false;
}

/** If-None-Match against one strong tag, with the weak comparison RFC 9110 asks for GET/HEAD. */
function matches(ifNoneMatch: string, etag: string): boolean {
  for (const candidate of ifNoneMatch.split(',')) {
    const value = candidate.trim();
    if (value === '*' || value === etag || value === `W/${etag}`) return true;
  }
  return false;
}

interface Fetched {
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * One GET on the loopback server, with node:http rather than fetch: fetch (Node's bundled undici,
 * its client and connection pool) cost every start 50–80 ms of wall time and 150 ms of CPU for
 * these two requests alone (cold starts, alternating trees).
 */
function loopbackGet(port: number, path: string): Promise<Fetched & { status: number }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, path, headers: { 'accept-encoding': 'identity' }, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks), headers });
      });
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** Asks the provider's own handler for `paths`, over a loopback server that lives for these requests. */
async function fetchThroughProvider(handle: (request: IncomingMessage, response: ServerResponse) => void, paths: () => AsyncGenerator<string, void, Fetched>): Promise<Map<string, Fetched>> {
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const results = new Map<string, Fetched>();
  try {
    const generator = paths();
    let step = await generator.next(undefined as unknown as Fetched);
    while (!step.done) {
      const path = step.value;
      const { status, ...fetched } = await loopbackGet(port, path);
      if (status !== 200) throw new Error(`the provider answered ${path} with ${status}`);
      results.set(path, fetched);
      step = await generator.next(fetched);
    }
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return results;
}

function documentHeaders(fetched: Fetched, baseline: Readonly<Record<string, string>>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(fetched.headers)) {
    if (NOT_REPLAYED.has(name) || name.startsWith('access-control-')) continue;
    headers[name] = value;
  }
  for (const [name, value] of Object.entries(baseline)) headers[name.toLowerCase()] = value;
  return headers;
}

export interface PrepareOptions {
  /** The provider's handler, wrapped with whatever the raw server does to a request first (normalising it). */
  handle: (request: IncomingMessage, response: ServerResponse) => void;
  /** Headers the raw server sets on every response (nosniff, HSTS): sent with these too, since they are answered first. */
  baselineHeaders: Readonly<Record<string, string>>;
  /** When the newest signing key appeared (ms since the epoch), for the JWKS max-age around a rotation. */
  newestKeyCreatedAt: number;
  now?: () => number;
}

export async function prepareDocuments(options: PrepareOptions): Promise<PreparedDocuments> {
  const now = options.now ?? Date.now;
  const discoveryPath = '/.well-known/openid-configuration';
  let jwksPath = '';
  const fetched = await fetchThroughProvider(options.handle, async function* () {
    const discovery = yield discoveryPath;
    const jwksUri = (JSON.parse(discovery.body.toString('utf8')) as { jwks_uri?: string }).jwks_uri;
    if (!jwksUri) throw new Error('discovery names no jwks_uri');
    jwksPath = new URL(jwksUri).pathname;
    yield jwksPath;
  });
  const discovery = fetched.get(discoveryPath) as Fetched;
  const jwks = fetched.get(jwksPath) as Fetched;
  const discoveryCacheControl = `public, max-age=${DISCOVERY_MAX_AGE}`;
  const jwksCacheControl = `public, max-age=${JWKS_MAX_AGE}`;
  const jwksShortCacheControl = `public, max-age=${JWKS_MAX_AGE_AROUND_ROTATION}`;
  const shortUntil = options.newestKeyCreatedAt + ROTATION_WINDOW_MS;
  const documents = new Map<string, PreparedDocument>([
    [discoveryPath, { ...representations(discovery.body), headers: documentHeaders(discovery, options.baselineHeaders), cacheControl: () => discoveryCacheControl }],
    [jwksPath, { ...representations(jwks.body), headers: documentHeaders(jwks, options.baselineHeaders), cacheControl: () => (now() < shortUntil ? jwksShortCacheControl : jwksCacheControl) }],
  ]);

  // The headers of each representation, made once (per Cache-Control value: the JWKS's changes with time).
  const made = new Map<Representation, { cacheControl: string; headers: Record<string, string | number> }>();
  function responseHeaders(document: PreparedDocument, representation: Representation): Record<string, string | number> {
    const cacheControl = document.cacheControl();
    const kept = made.get(representation);
    if (kept?.cacheControl === cacheControl) return kept.headers;
    const headers: Record<string, string | number> = {
      ...document.headers,
      'access-control-allow-origin': '*',
      vary: document.gzip ? 'Origin, Accept-Encoding' : 'Origin',
      etag: representation.etag,
      'cache-control': cacheControl,
      ...(representation === document.identity ? {} : { 'content-encoding': 'gzip' }),
      'content-length': representation.body.length,
    };
    made.set(representation, { cacheControl, headers });
    return headers;
  }

  return {
    jwksPath,
    serve(request, response) {
      const method = request.method;
      if (method !== 'GET' && method !== 'HEAD') return false;
      const url = request.url ?? '';
      const query = url.indexOf('?');
      // The provider ignores query strings on these two paths: so do we.
      const document = documents.get(query === -1 ? url : url.slice(0, query));
      if (!document) return false;
      const representation = document.gzip && acceptsGzip(request.headers['accept-encoding']) ? document.gzip : document.identity;
      const origin = request.headers.origin;
      let headers = responseHeaders(document, representation);
      // oidc-provider's CORS for these documents: the caller's Origin, else any.
      if (origin) headers = { ...headers, 'access-control-allow-origin': origin };
      const ifNoneMatch = request.headers['if-none-match'];
      if (ifNoneMatch && matches(ifNoneMatch, representation.etag)) {
        const { 'content-type': _type, 'content-length': _length, ...notModified } = headers;
        response.writeHead(304, notModified);
        response.end();
        return true;
      }
      response.writeHead(200, headers);
      if (method === 'HEAD') response.end();
      else response.end(representation.body);
      return true;
    },
  };
}
