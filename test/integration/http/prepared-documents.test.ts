/**
 * Discovery and the JWKS from bytes prepared at each provider build: the same bytes and headers as
 * oidc-provider answers, ETag and 304, Cache-Control, HEAD, gzip, CORS, and a key rotation in one
 * Gatehouse seen by another on the same database.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { Config } from '../../../src/config/config.ts';
import { DISCOVERY_MAX_AGE, JWKS_MAX_AGE_AROUND_ROTATION, acceptsGzip } from '../../../src/http/prepared-documents.ts';
import { type RunningServer, startServer } from '../../../src/http/server.ts';
import { type Runtime, openRuntime } from '../../../src/runtime.ts';
import { DATABASE_KINDS, freshConfig } from '../../helpers/databases.ts';
import { freePort } from '../../helpers/net.ts';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(serverUrl: string, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const url = new URL(serverUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const DISCOVERY = '/.well-known/openid-configuration';
const JWKS = '/.well-known/jwks.json';
/** Headers that describe the connection or the moment, or that preparing adds on purpose. */
const ADDED_OR_VOLATILE = new Set(['date', 'connection', 'keep-alive', 'etag', 'cache-control', 'vary', 'content-encoding', 'content-length']);

function lasting(headers: Answer['headers']): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !ADDED_OR_VOLATILE.has(name)));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('Accept-Encoding: gzip only when a gzip or * coding is not refused', () => {
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip('identity'), false);
  assert.equal(acceptsGzip('gzip, deflate, br'), true);
  assert.equal(acceptsGzip('br;q=1.0, gzip;q=0'), false);
  assert.equal(acceptsGzip('*'), true);
  assert.equal(acceptsGzip('*;q=0'), false);
  assert.equal(acceptsGzip('GZIP;q=0.5'), true);
});

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`prepared discovery and JWKS (${kind})`, { skip }, () => {
    let config: Config;
    let cleanup: () => Promise<void>;
    // Two Gatehouse instances on one database (as two processes would be), and one that lets
    // oidc-provider answer each request: what the prepared bytes must equal.
    const nodes: Array<{ runtime: Runtime; server: RunningServer }> = [];
    let prepared: string;
    let second: string;
    let providerAnswers: string;

    async function startNode(options: { preparedDocuments?: boolean }): Promise<string> {
      const port = await freePort();
      const runtime = await openRuntime({ ...config, port });
      const server = await startServer(runtime, { logLevel: 'warn', keyPollIntervalMs: 200, ...options });
      nodes.push({ runtime, server });
      return server.url;
    }

    before(async () => {
      const port = await freePort();
      ({ config, cleanup } = await freshConfig(kind, { issuer: `http://127.0.0.1:${port}`, port, host: '127.0.0.1' }));
      prepared = await startNode({});
      second = await startNode({});
      providerAnswers = await startNode({ preparedDocuments: false });
    });

    after(async () => {
      for (const node of nodes) {
        await node.server.close();
        await node.runtime.close();
      }
      await cleanup();
    });

    test('the same bytes and headers as oidc-provider answers, plus ETag and Cache-Control', async () => {
      for (const path of [DISCOVERY, JWKS]) {
        for (const origin of [undefined, 'https://rp.example']) {
          const headers = origin ? { origin } : {};
          const ours = await get(prepared, path, { headers });
          const theirs = await get(providerAnswers, path, { headers });
          assert.equal(ours.status, 200);
          assert.equal(theirs.status, 200);
          assert.deepEqual(ours.body, theirs.body, `${path}: the provider's bytes`);
          assert.deepEqual(lasting(ours.headers), lasting(theirs.headers), `${path}: the provider's headers (CORS, CSP, content type, baseline)`);
          assert.equal(ours.headers['access-control-allow-origin'], origin ?? '*');
          assert.equal(ours.headers['content-length'], String(ours.body.length));
          assert.match(String(ours.headers.vary), /^Origin\b/);
          assert.match(String(ours.headers.etag), /^"[\w-]+"$/);
          assert.equal(theirs.headers.etag, undefined, 'the provider itself sends no ETag');
        }
      }
      const discovery = await get(prepared, DISCOVERY);
      assert.equal(discovery.headers['cache-control'], `public, max-age=${DISCOVERY_MAX_AGE}`);
      // The keys were made when the database was: the JWKS is inside the window around a rotation.
      const jwks = await get(prepared, JWKS);
      assert.equal(jwks.headers['cache-control'], `public, max-age=${JWKS_MAX_AGE_AROUND_ROTATION}`);
      assert.ok(JWKS_MAX_AGE_AROUND_ROTATION < DISCOVERY_MAX_AGE);
      // A query string changes nothing, as with the provider.
      assert.deepEqual((await get(prepared, `${JWKS}?x=1`)).body, jwks.body);
    });

    test('If-None-Match: 304 with the same tag (weak or in a list), 200 with a stale one', async () => {
      const first = await get(prepared, JWKS);
      const etag = String(first.headers.etag);
      for (const ifNoneMatch of [etag, `W/${etag}`, `"stale", ${etag}`, '*']) {
        const revalidated = await get(prepared, JWKS, { headers: { 'if-none-match': ifNoneMatch, origin: 'https://rp.example' } });
        assert.equal(revalidated.status, 304, ifNoneMatch);
        assert.equal(revalidated.body.length, 0);
        assert.equal(revalidated.headers.etag, etag);
        assert.equal(revalidated.headers['cache-control'], first.headers['cache-control']);
        assert.equal(revalidated.headers['access-control-allow-origin'], 'https://rp.example');
      }
      const stale = await get(prepared, JWKS, { headers: { 'if-none-match': '"not-the-current-tag"' } });
      assert.equal(stale.status, 200);
      assert.deepEqual(stale.body, first.body);
    });

    test('HEAD: the headers of GET without a body', async () => {
      for (const path of [DISCOVERY, JWKS]) {
        const full = await get(prepared, path);
        const head = await get(prepared, path, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        assert.equal(head.headers['content-length'], full.headers['content-length']);
        assert.equal(head.headers.etag, full.headers.etag);
        assert.equal(head.headers['content-type'], full.headers['content-type']);
      }
    });

    test('gzip when the client accepts it, with its own tag; identity otherwise', async () => {
      const plain = await get(prepared, DISCOVERY);
      const zipped = await get(prepared, DISCOVERY, { headers: { 'accept-encoding': 'gzip, br' } });
      assert.equal(zipped.headers['content-encoding'], 'gzip');
      assert.ok(zipped.body.length < plain.body.length);
      assert.deepEqual(gunzipSync(zipped.body), plain.body);
      assert.notEqual(zipped.headers.etag, plain.headers.etag);
      assert.equal(zipped.headers.vary, 'Origin, Accept-Encoding');
      assert.equal(plain.headers['content-encoding'], undefined);
      const notModified = await get(prepared, DISCOVERY, { headers: { 'accept-encoding': 'gzip', 'if-none-match': String(zipped.headers.etag) } });
      assert.equal(notModified.status, 304);
    });

    test('other methods are still the provider\'s: POST 404, CORS preflight 204', async () => {
      for (const path of [DISCOVERY, JWKS]) {
        const ours = await get(prepared, path, { method: 'POST' });
        const theirs = await get(providerAnswers, path, { method: 'POST' });
        assert.equal(ours.status, theirs.status);
        assert.equal(ours.status, 404);
        const preflight = { origin: 'https://rp.example', 'access-control-request-method': 'GET' };
        const ourPreflight = await get(prepared, path, { method: 'OPTIONS', headers: preflight });
        const theirPreflight = await get(providerAnswers, path, { method: 'OPTIONS', headers: preflight });
        assert.equal(ourPreflight.status, 204);
        assert.deepEqual(lasting(ourPreflight.headers), lasting(theirPreflight.headers));
      }
    });

    test('a key rotation in one Gatehouse reaches the other: a new tag and the new key', async () => {
      const before = await get(second, JWKS);
      const beforeDiscovery = await get(second, DISCOVERY);
      const rotated = await nodes[0]?.runtime.keys.rotate();
      const next = rotated?.find((key) => key.state === 'next');
      assert.ok(next);
      const after = await until('the second Gatehouse publishes the new next key', async () => {
        const answer = await get(second, JWKS);
        return answer.body.toString().includes(next.kid) ? answer : undefined;
      });
      assert.notEqual(after.headers.etag, before.headers.etag);
      const stale = await get(second, JWKS, { headers: { 'if-none-match': String(before.headers.etag) } });
      assert.equal(stale.status, 200, 'a tag from before the rotation is stale');
      const kids = (JSON.parse(after.body.toString()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
      const published = (await nodes[1]?.runtime.keys.list())?.map((key) => key.kid) ?? [];
      assert.deepEqual(new Set(kids), new Set(published), 'every key in use or about to be is published');
      // The same bytes as the provider answers after the change (once it too has reloaded).
      await until('the provider-answered instance reloads', async () => ((await get(providerAnswers, JWKS)).body.toString().includes(next.kid) ? true : undefined));
      assert.deepEqual(after.body, (await get(providerAnswers, JWKS)).body);
      // Discovery does not depend on the keys: its tag stands, so caches keep it.
      assert.equal((await get(second, DISCOVERY)).headers.etag, beforeDiscovery.headers.etag);
    });

    test('a settings change rebuilds the documents, still the provider\'s bytes', async () => {
      // No setting shows in discovery today (lifetimes do not): the documents are rebuilt and equal.
      await nodes[0]?.runtime.directory.settings.update({ access_token_ttl: 1800 });
      await new Promise((resolve) => setTimeout(resolve, 1000));
      for (const path of [DISCOVERY, JWKS]) assert.deepEqual((await get(second, path)).body, (await get(providerAnswers, path)).body);
    });
  });
}
