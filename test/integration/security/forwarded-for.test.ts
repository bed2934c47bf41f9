/**
 * The client address behind proxies: only the configured proxies are believed, and the address is
 * the one the last trusted proxy saw, so a client-written X-Forwarded-For entry can neither dodge
 * the sign-in limits nor get a victim's address limited. Fastify (the sign-in form, its limits and
 * audit events) and oidc-provider (the token endpoint's audit events) see the same address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TrustProxy } from '../../../src/config/config.ts';
import { parseForms } from '../../helpers/browser.ts';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type ConfiguredServer, raw, startConfigured } from '../http/raw.ts';
import { GENERIC_FAILURE, PASSWORD, REDIRECT_URI, basic, pageAlert, pkcePair } from './support.ts';

const PER_ACCOUNT_LIMIT = 20;

interface Setup {
  server: ConfiguredServer;
  clientId: string;
  clientSecret: string;
}

async function setUp(kind: 'sqlite' | 'postgres', trustProxy: TrustProxy): Promise<Setup> {
  const server = await startConfigured(kind, { trustProxy });
  const { users, groups, apps } = server.runtime.directory;
  await users.create({ username: 'pia', email: 'pia@example.com', password: PASSWORD });
  await groups.create('staff');
  await groups.addMember('staff', 'pia');
  const { app, clientSecret } = await apps.create({ label: 'Forwarded', redirect_uris: [REDIRECT_URI], auth_method: 'client_secret_basic', scopes: ['email'] });
  await apps.bind(app.id, 'staff');
  return { server, clientId: app.client_id, clientSecret: clientSecret ?? '' };
}

/** Opens a sign-in page, sends the form with the given X-Forwarded-For, and (on success) exchanges the code with it too. */
async function signIn(setup: Setup, forwardedFor: string | undefined, username: string, password: string) {
  const headers: Record<string, string> = forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
  const jar = new Map<string, string>();
  const { verifier, challenge } = await pkcePair();
  const query = new URLSearchParams({ client_id: setup.clientId, response_type: 'code', scope: 'openid', redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: 'S256' });
  const start = await raw(setup.server.url, `/oauth2/auth?${query}`, { headers, jar });
  const page = await raw(setup.server.url, new URL(start.location ?? '', setup.server.url).pathname, { headers, jar });
  const [form] = parseForms(page.text);
  assert.ok(form, page.text.slice(0, 300));
  const fields = Object.fromEntries(form.fields.map((field) => [field.name, field.value]));
  const response = await raw(setup.server.url, new URL(form.action, setup.server.url).pathname, { method: 'POST', headers, jar, body: String(new URLSearchParams({ ...fields, username, password })) });
  if (response.status !== 303) return { response };
  const resume = await raw(setup.server.url, new URL(response.location ?? '', setup.server.url).pathname, { headers, jar });
  const code = new URL(resume.location ?? '').searchParams.get('code') ?? '';
  const tokenResponse = await raw(setup.server.url, '/oauth2/token', {
    method: 'POST',
    headers: { ...headers, authorization: basic(setup.clientId, setup.clientSecret), accept: 'application/json' },
    body: String(new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier })),
  });
  assert.equal(tokenResponse.status, 200, tokenResponse.text);
  return { response };
}

async function lastAddress(setup: Setup, action: string): Promise<string | null | undefined> {
  const { events } = await setup.server.runtime.directory.audit.list({ action });
  return events[0]?.source_ip;
}

/** Fails sign-ins of one unknown username until the per-(address, username) limit answers 429. */
async function failuresUntilLimited(setup: Setup, forwardedFor: (attempt: number) => string, username: string): Promise<number> {
  for (let attempt = 1; attempt <= PER_ACCOUNT_LIMIT + 1; attempt++) {
    const { response } = await signIn(setup, forwardedFor(attempt), username, 'wrong-password-1');
    if (response.status === 429) return attempt;
    assert.equal(response.status, 200, response.text.slice(0, 300));
    assert.equal(pageAlert(response.text), GENERIC_FAILURE);
  }
  return Number.POSITIVE_INFINITY;
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`X-Forwarded-For with one trusted hop (${kind})`, { skip }, () => {
    let setup: Setup;
    before(async () => {
      setup = await setUp(kind, 1);
    });
    after(() => setup?.server.close());

    test('the address the proxy saw is used by the audit log, at the sign-in form and the token endpoint', async () => {
      const { response } = await signIn(setup, 'forged-by-client, 198.51.100.20', 'pia', PASSWORD);
      assert.equal(response.status, 303);
      assert.equal(await lastAddress(setup, 'user.sign_in'), '198.51.100.20');
      assert.equal(await lastAddress(setup, 'token.issue'), '198.51.100.20', 'oidc-provider sees the same address');
    });

    test('a forged left-most entry does not dodge the sign-in limit', async () => {
      const attempts = await failuresUntilLimited(setup, (attempt) => `203.0.113.${attempt}, 198.51.100.21`, 'nobody-1');
      assert.equal(attempts, PER_ACCOUNT_LIMIT + 1, 'limited after the limit, whatever the client wrote');
    });

    test("a forged entry cannot get the victim's address limited", async () => {
      // The attacker (198.51.100.66 as the proxy sees it) writes the victim's address.
      assert.equal(await failuresUntilLimited(setup, () => '198.51.100.77, 198.51.100.66', 'nobody-2'), PER_ACCOUNT_LIMIT + 1);
      const { response } = await signIn(setup, '198.51.100.77', 'nobody-2', 'wrong-password-1');
      assert.equal(response.status, 200, 'the victim is not limited');
    });
  });

  describe(`X-Forwarded-For without a trusted proxy (${kind})`, { skip }, () => {
    let setup: Setup;
    before(async () => {
      setup = await setUp(kind, false);
    });
    after(() => setup?.server.close());

    test('X-Forwarded-For is ignored: the socket address counts', async () => {
      const { response } = await signIn(setup, '198.51.100.30', 'pia', PASSWORD);
      assert.equal(response.status, 303);
      assert.equal(await lastAddress(setup, 'user.sign_in'), '127.0.0.1');
      assert.equal(await lastAddress(setup, 'token.issue'), '127.0.0.1');
      assert.equal(await failuresUntilLimited(setup, (attempt) => `203.0.113.${attempt}`, 'nobody-3'), PER_ACCOUNT_LIMIT + 1);
    });
  });

  describe(`X-Forwarded-For with a list of trusted proxies (${kind})`, { skip }, () => {
    let setup: Setup;
    before(async () => {
      // The loopback range (the test's own connection) and one more proxy in front of it.
      setup = await setUp(kind, ['127.0.0.0/8', '192.0.2.10']);
    });
    after(() => setup?.server.close());

    test('the address the last trusted proxy saw is used; untrusted entries further left are not', async () => {
      await signIn(setup, 'forged, 198.51.100.40, 192.0.2.10', 'pia', PASSWORD);
      assert.equal(await lastAddress(setup, 'user.sign_in'), '198.51.100.40');
      assert.equal(await lastAddress(setup, 'token.issue'), '198.51.100.40');
      // An untrusted hop ends the chain: 198.51.100.41 is not a proxy of ours, so what it wrote is not believed.
      await signIn(setup, '192.0.2.10, 198.51.100.41', 'pia', PASSWORD);
      assert.equal(await lastAddress(setup, 'user.sign_in'), '198.51.100.41');
    });
  });
}
