/**
 * What the federation acceptance tests share: a browser that keeps cookies per origin (Gatehouse,
 * the test Entra and a second Gatehouse all live on 127.0.0.1, on different ports, and stand for
 * different hosts), the walk through identifier-first sign-in across servers, and a Gatehouse set
 * up like seed 004 through its directory API.
 */
import assert from 'node:assert/strict';
import { type ApiResponse, adminKey, call } from '../../helpers/api.ts';
import { Browser, parseForms, storeSetCookies } from '../../helpers/browser.ts';
import type { DatabaseKind } from '../../helpers/databases.ts';
import { type EntraApp, type EntraPerson, type TestEntra, startEntra } from '../../helpers/entra.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { client, discover, startAuthorization } from '../../helpers/rp.ts';

/** A browser with one cookie jar per origin, and a log of every request it made. */
export class FederationBrowser extends Browser {
  readonly jars = new Map<string, Map<string, string>>();
  readonly log: { method: string; url: string; body?: string | undefined }[] = [];

  override async request(url: string, init: RequestInit = {}): Promise<Response> {
    const origin = new URL(url).origin;
    let jar = this.jars.get(origin);
    if (!jar) {
      jar = new Map();
      this.jars.set(origin, jar);
    }
    const headers = new Headers(init.headers);
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    this.log.push({ method: init.method ?? 'GET', url, body: init.body instanceof URLSearchParams ? init.body.toString() : undefined });
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    storeSetCookies(jar, response.headers.getSetCookie());
    return response;
  }

  /** The requests made to URLs starting with `prefix`. */
  visits(prefix: string) {
    return this.log.filter((entry) => entry.url.startsWith(prefix));
  }
}

export interface Page {
  url: string;
  status: number;
  html: string;
}

export interface FederatedOutcome {
  callbackUrl?: URL;
  page?: Page;
  /** The URL the walk was told to stop at (options.stopAtPrefix), not fetched. */
  stoppedAt?: string;
}

/**
 * Opens the authorization URL and walks on like a person without JavaScript: types `username` into
 * an identifier step, `password` (when given) into a password step, submits a form_post page as
 * its script would. Stops at the app's redirect URI (not fetched), at `stopAt` URLs, or at a page
 * it has nothing to type into.
 */
export async function walk(browser: FederationBrowser, url: URL | string, redirectUri: string, typed: { username: string; password?: string | undefined }, options: { stopAtPrefix?: string } = {}): Promise<FederatedOutcome> {
  const stopAt = options.stopAtPrefix ?? redirectUri;
  let step = await browser.follow(String(url), stopAt);
  for (let pages = 0; pages < 8; pages++) {
    if (!step.response) {
      return step.url.startsWith(redirectUri) ? { callbackUrl: new URL(step.url) } : { stoppedAt: step.url };
    }
    const html = await step.response.text();
    const page = { url: step.url, status: step.response.status, html };
    const forms = parseForms(html);
    const has = (form: (typeof forms)[number], name: string) => form.fields.some((field) => field.name === name);
    const passwordForm = forms.find((form) => has(form, 'password'));
    const identifierForm = forms.find((form) => has(form, 'username') && !has(form, 'password'));
    const autoPost = forms.find((form) => has(form, 'code') || has(form, 'error'));
    if (passwordForm) {
      if (typed.password === undefined) return { page };
      step = await browser.submit(step.url, passwordForm, { username: typed.username, password: typed.password }, stopAt);
    } else if (identifierForm && step.response.status === 200) {
      step = await browser.submit(step.url, identifierForm, { username: typed.username }, stopAt);
    } else if (autoPost) {
      step = await browser.submit(step.url, autoPost, {}, stopAt);
    } else {
      return { page };
    }
  }
  throw new Error('the sign-in did not finish');
}

/** Continues a walk stopped at `url` (e.g. before the upstream). */
export const resume = (browser: FederationBrowser, url: string, redirectUri: string, typed: { username: string; password?: string | undefined }) => walk(browser, url, redirectUri, typed);

export interface DownstreamApp {
  id: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  config: client.Configuration;
}

/** An administrator's API, as a person with role administrator_with_billing. */
export interface Admin {
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
  call<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  /** As call, asserting the status. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies of every shape
  ok<T = any>(method: string, path: string, body?: unknown, status?: number): Promise<T>;
}

export async function adminOf(gatehouse: TestGatehouse): Promise<Admin> {
  const { key } = await adminKey(gatehouse, 'administrator_with_billing');
  const admin: Admin = {
    call: (method, path, body) => call(gatehouse, method, path, body, { key }),
    async ok(method, path, body, status) {
      const response = await call(gatehouse, method, path, body, { key });
      assert.equal(response.status, status ?? (method === 'POST' ? 201 : method === 'DELETE' || method === 'PUT' ? 204 : 200), `${method} ${path}: ${response.text}`);
      return response.body;
    },
  };
  return admin;
}

export async function createApp(gatehouse: TestGatehouse, admin: Admin, input: { label: string; redirectUri: string; groups: string[]; groupsClaim?: string }): Promise<DownstreamApp> {
  const created = await admin.ok('POST', '/api/apps', {
    label: input.label,
    redirect_uris: [input.redirectUri],
    auth_method: 'client_secret_basic',
    scopes: ['email', 'profile'],
    ...(input.groupsClaim ? { groups_claim: input.groupsClaim } : {}),
  });
  for (const group of input.groups) await admin.ok('PUT', `/api/apps/${created.app.id}/groups/${await groupId(admin, group)}`);
  const config = await discover({ issuer: gatehouse.issuer, clientId: created.app.client_id, clientSecret: created.client_secret, authMethod: 'client_secret_basic', redirectUri: input.redirectUri });
  return { id: created.app.id, clientId: created.app.client_id, clientSecret: created.client_secret, redirectUri: input.redirectUri, config };
}

export async function groupId(admin: Admin, name: string): Promise<string> {
  const page = await admin.ok('GET', `/api/groups?search=${encodeURIComponent(name)}&limit=100`);
  const group = (page.data as { id: string; name: string }[]).find((g) => g.name === name);
  if (group) return group.id;
  return (await admin.ok('POST', '/api/groups', { name })).id;
}

export async function createUser(admin: Admin, input: { username: string; email: string; firstname?: string; lastname?: string; password?: string; groups?: string[]; role?: string }) {
  const { groups = [], ...fields } = input;
  const user = await admin.ok('POST', '/api/users', { firstname: 'Test', lastname: 'Person', ...fields });
  for (const group of groups) await admin.ok('PUT', `/api/groups/${await groupId(admin, group)}/members/${user.id}`);
  return user as { id: string; username: string; email: string };
}

/** Starts the app's authorization request and walks through; the token exchange when it ends at the app. */
export async function appSignIn(app: DownstreamApp, browser: FederationBrowser, typed: { username: string; password?: string }, scope = 'openid email profile') {
  const start = await startAuthorization(app.config, app.redirectUri, scope);
  const outcome = await walk(browser, start.url, app.redirectUri, typed);
  const exchange = () => {
    assert.ok(outcome.callbackUrl, `the sign-in stopped at a page (${outcome.page?.status}) ${outcome.page?.url}: ${outcome.page?.html.replace(/\s+/g, ' ').slice(0, 600)}`);
    return client.authorizationCodeGrant(app.config, outcome.callbackUrl, { pkceCodeVerifier: start.codeVerifier, expectedState: start.state, expectedNonce: start.nonce, idTokenExpected: true });
  };
  return { start, outcome, exchange };
}

/** The federation.sign_in (or other) audit events, newest first, through the API. */
export async function auditEvents(admin: Admin, action: string) {
  const page = await admin.ok('GET', `/api/audit-events?action=${encodeURIComponent(action)}&limit=100`);
  return page.data as { id: string; action: string; outcome: 'success' | 'failure'; details: Record<string, unknown>; actor: { type: string; id: string | null; name: string | null }; target: { type: string; id: string | null; name: string | null } | null }[];
}

export const CALLBACK_PATH = '/oauth/callback';

/** seed 004's world: a Gatehouse with Entra as identity provider and a routing policy on a group. */
export interface EntraWorld {
  gatehouse: TestGatehouse;
  entra: TestEntra;
  admin: Admin;
  tenant: string;
  entraApp: EntraApp;
  provider: { id: string; name: string; callback_url?: string };
  close(): Promise<void>;
}

export const ENTRA_PROVIDER = 'Entra OIDC';
export const ROUTED_GROUP = 'Entra users';

export async function startEntraWorld(kind: DatabaseKind): Promise<EntraWorld> {
  const entra = await startEntra();
  let gatehouse: TestGatehouse | undefined;
  try {
    gatehouse = await startGatehouse(kind);
    const admin = await adminOf(gatehouse);
    const tenant = entra.addTenant(undefined, { domains: ['contoso.example'] });
    // The seed's app registration in Entra: a Web redirect URI, Gatehouse's callback.
    const entraApp = entra.registerApp({ redirectUris: [`${gatehouse.issuer}${CALLBACK_PATH}`], authMethod: 'client_secret_post' });
    const provider = await admin.ok('POST', '/api/identity-providers', {
      name: ENTRA_PROVIDER,
      type: 'entra',
      url: entra.tenantUrl(tenant),
      client_id: entraApp.clientId,
      client_secret: entraApp.clientSecret,
    });
    await groupId(admin, ROUTED_GROUP);
    await admin.ok('POST', '/api/routing-policies', { name: 'Staff through Entra', identity_provider: ENTRA_PROVIDER, user_groups: [ROUTED_GROUP] });
    const started = gatehouse;
    return {
      gatehouse: started,
      entra,
      admin,
      tenant,
      entraApp,
      provider,
      async close() {
        await started.close();
        await entra.close();
      },
    };
  } catch (error) {
    await gatehouse?.close();
    await entra.close();
    throw error;
  }
}

/** An Entra person whose UPN and contact email are `email` (the seed's setup), xms_edov true unless said. */
export function entraPerson(world: EntraWorld, email: string, extra: Partial<EntraPerson> = {}): EntraPerson {
  return world.entra.addPerson({ tenant: world.tenant, username: email, name: email.split('@')[0] ?? email, email, xms_edov: true, ...extra });
}

/** A Gatehouse page the sign-in stopped at: an error page with a way to try again, never a 500. */
export function assertFailurePage(outcome: FederatedOutcome, expected: { status?: number | number[]; text?: RegExp; tryAgain?: boolean }) {
  assert.ok(outcome.page, `expected a page, got the app's callback ${outcome.callbackUrl}`);
  const { status, html } = outcome.page;
  assert.notEqual(status, 500, html);
  const allowed = expected.status === undefined ? undefined : Array.isArray(expected.status) ? expected.status : [expected.status];
  if (allowed) assert.ok(allowed.includes(status), `status ${status}, expected ${allowed.join(' or ')}: ${html.slice(0, 400)}`);
  else assert.ok((status >= 400 && status < 500) || status === 502, `status ${status}: ${html.slice(0, 400)}`);
  if (expected.tryAgain !== false) assert.match(html, /try again/i);
  if (expected.text) assert.match(html.replace(/&#39;|&#x27;/g, "'").replace(/&quot;/g, '"'), expected.text);
}

const assertedEvents = new Set<string>();

/**
 * The newest federation.sign_in event, asserting it is a failure with that reason and that no
 * earlier assertion looked at it (so a refusal that wrote nothing can't pass on an older event).
 */
export async function assertFederationFailure(admin: Admin, reason: string) {
  const [latest] = await auditEvents(admin, 'federation.sign_in');
  assert.ok(latest, 'a federation.sign_in event is in the audit log');
  assert.ok(!assertedEvents.has(latest.id), `no new federation.sign_in event (the newest is ${JSON.stringify(latest)})`);
  assertedEvents.add(latest.id);
  assert.equal(latest.outcome, 'failure', JSON.stringify(latest));
  assert.equal(latest.details.reason, reason, JSON.stringify(latest));
  return latest;
}

export async function userCount(admin: Admin): Promise<number> {
  return (await admin.ok('GET', '/api/users?limit=1')).total as number;
}

export async function linksOf(admin: Admin, userId: string) {
  return (await admin.ok('GET', `/api/users/${userId}/identities`)) as {
    data: { id: string; issuer: string; subject: string; email: string | null; identity_provider: { id: string; name: string } }[];
    externally_managed_password: boolean;
    identity_provider: { id: string; name: string } | null;
  };
}
