/**
 * What a server start does not do any more (issue 14, goal 6: cold start under a second): compile
 * every route's request and response schemas, and load libraries that no token request needs
 * (WebAuthn with its ASN.1/X.509 stack, QR codes, the PostgreSQL driver on SQLite). Schemas are
 * compiled on a route's first use, with Fastify's own compilers and options, so answers are the
 * same; and every schema still compiles (what start-up used to prove).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildApp } from '../../../src/http/app.ts';
import { startServer } from '../../../src/http/server.ts';
import { compilersOf } from '../../../src/http/lazy-compilers.ts';
import { DATABASE_KINDS, freshRuntime } from '../../helpers/databases.ts';

describe('Server start-up', () => {
  for (const { kind, skip } of DATABASE_KINDS) {
    test(`${kind}: no schema is compiled at start; a route's are on its first use, answers unchanged; every route's compile`, { skip }, async () => {
      const { runtime, cleanup } = await freshRuntime(kind);
      const app = await buildApp(runtime, { logLevel: 'silent' });
      try {
        await app.ready();
        const compilers = compilersOf(app);
        assert.deepEqual(compilers.compiled(), { validators: 0, serializers: 0 });

        const admin = await runtime.directory.users.create({ username: 'start-up.admin', email: 'start-up.admin@example.com', role: 'administrator_with_billing' });
        const { key } = await runtime.directory.apiKeys.create({ owner: admin.id, name: 'start-up' });
        const headers = { 'x-api-key': key };

        // Validation as before: unknown fields and bad values refused, every error reported.
        const refused = await app.inject({ method: 'POST', url: '/api/users', headers, payload: { username: 'someone', email: 'someone@example.com', bogus: true } });
        assert.equal(refused.statusCode, 400, refused.body);
        assert.equal(refused.json().code, 'request.invalid');
        assert.ok(compilers.compiled().validators > 0);

        // Serialization as before: the response schema's fields, nothing else (no password hash).
        const listed = await app.inject({ method: 'GET', url: '/api/users', headers });
        assert.equal(listed.statusCode, 200, listed.body);
        assert.ok(compilers.compiled().serializers > 0);
        assert.match(listed.body, /"username":"start-up\.admin"/);
        assert.doesNotMatch(listed.body, /password_hash|\$argon2/);

        // What start-up used to prove: every route's schemas compile.
        compilers.compilePending();
        const all = compilers.compiled();
        assert.ok(all.validators > 20 && all.serializers > 50, JSON.stringify(all));
      } finally {
        await app.close();
        await cleanup();
      }
    });
  }

  for (const { kind, skip } of DATABASE_KINDS) {
    test(`${kind}: the first sweep of expired rows waits until the server has been answering a while`, { skip }, async () => {
      const { runtime, cleanup } = await freshRuntime(kind);
      const { db } = runtime.storage;
      const expired = { model: 'AccessToken', id: 'start-up-expired', payload: '{}', expires_at: Math.floor(Date.now() / 1000) - 60 };
      await db.insertInto('oidc_payloads').values(expired).execute();
      const present = async () => Boolean(await db.selectFrom('oidc_payloads').select('id').where('id', '=', expired.id).executeTakeFirst());
      const server = await startServer(runtime, { logLevel: 'silent', firstPurgeDelayMs: 1000 });
      try {
        const response = await fetch(`${server.url}/.well-known/openid-configuration`);
        assert.equal(response.status, 200);
        // With many sessions the sweep takes a while on the event loop: not before the first answers.
        assert.equal(await present(), true);
        const deadline = Date.now() + 10_000;
        while ((await present()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(await present(), false, 'swept a little later');
      } finally {
        await server.close();
        await cleanup();
      }
    });
  }

  // A negative minLength compiles without complaint (Ajv checks only that it is a number): only the
  // meta-schema refuses it. Schema checks are not about storage: one database is enough.
  const brokenSchemas: Array<{ name: string; url: string; register(app: Awaited<ReturnType<typeof buildApp>>): void }> = [
    {
      name: 'a route schema',
      url: '/start-up-broken?n=x',
      register: (app) => app.get('/start-up-broken', { schema: { querystring: { type: 'object', properties: { n: { type: 'string', minLength: -1 } } } } }, async () => ({ ok: true })),
    },
    {
      name: 'a shared schema a route refers to',
      url: '/start-up-shared?n=x',
      register: (app) => {
        app.addSchema({ $id: 'start-up-broken-shared', type: 'object', properties: { n: { type: 'string', minLength: -1 } } });
        app.get('/start-up-shared', { schema: { querystring: { $ref: 'start-up-broken-shared#' } } }, async () => ({ ok: true }));
      },
    },
  ];
  for (const { name, url, register } of brokenSchemas) {
    test(`sqlite: ${name} that breaks the JSON Schema meta-schema is refused on the route's first use and by compilePending`, async () => {
      const { runtime, cleanup } = await freshRuntime('sqlite');
      const app = await buildApp(runtime, { logLevel: 'silent' });
      try {
        register(app);
        await app.ready();
        const answered = await app.inject({ method: 'GET', url });
        assert.equal(answered.statusCode, 500, answered.body);
        assert.throws(() => compilersOf(app).compilePending(), /schema is invalid: .*minLength must be >= 0/);
      } finally {
        await app.close();
        await cleanup();
      }
    });
  }

  test('sqlite: serving discovery loads neither the WebAuthn library, the QR code library, nor the PostgreSQL driver, and starting makes no fetch', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-start-up-'));
    const at = (path: string) => JSON.stringify(new URL(`../../../src/${path}`, import.meta.url).href);
    const script = `
      import { registerHooks } from 'node:module';
      const loaded = new Set();
      registerHooks({ load(url, context, next) { loaded.add(url); return next(url, context); } });
      const { loadConfig } = await import(${at('config/config.ts')});
      const { openRuntime } = await import(${at('runtime.ts')});
      const { startServer } = await import(${at('http/server.ts')});
      const config = { ...loadConfig({ dataDir: ${JSON.stringify(dataDir)}, issuer: 'http://127.0.0.1:0' }, {}), port: 0, host: '127.0.0.1' };
      // fetch (Node's undici client) costs a start 50-80 ms: the start-up's own requests use node:http.
      const realFetch = globalThis.fetch;
      let startUpFetches = 0;
      globalThis.fetch = (...args) => { startUpFetches++; return realFetch(...args); };
      const runtime = await openRuntime(config);
      const server = await startServer(runtime, { logLevel: 'silent' });
      globalThis.fetch = realFetch;
      const response = await fetch(server.url + '/.well-known/openid-configuration');
      await server.close();
      await runtime.close();
      process.stdout.write(JSON.stringify({ status: response.status, loaded: [...loaded], startUpFetches }));
    `;
    try {
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
      assert.equal(child.status, 0, child.stderr);
      const { status, loaded, startUpFetches } = JSON.parse(child.stdout) as { status: number; loaded: string[]; startUpFetches: number };
      assert.equal(status, 200);
      assert.equal(startUpFetches, 0, 'the start-up fetched something');
      assert.ok(loaded.some((url) => url.includes('/node_modules/oidc-provider/')), 'the hook sees the modules loaded');
      const heavy = loaded.filter((url) => /\/node_modules\/(@simplewebauthn|@peculiar|qrcode|pg)\//.test(url));
      assert.deepEqual(heavy, []);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
