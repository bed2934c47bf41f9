/**
 * Shared pieces of the security tests: raw HTTP calls to the protocol endpoints (for requests a
 * well-behaved relying-party library would refuse to send), and the checks that an error response
 * leaks nothing. Not a test file itself: run the suite with 'test/integration/security/*.test.ts'.
 */
import assert from 'node:assert/strict';
import { Browser, parseForms } from '../../helpers/browser.ts';
import type { DatabaseKind } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { type AuthorizationStart, browse, client, discover, startAuthorization } from '../../helpers/rp.ts';

export const REDIRECT_URI = 'https://app.example.test/callback';
export const OTHER_REDIRECT_URI = 'https://app.example.test/other-callback';
export const PASSWORD = 'correct-horse-battery';

/** The generic sign-in refusal, one text for every reason (see src/http/routes/interactions.ts). */
export const GENERIC_FAILURE = 'The username or password is incorrect, or the account cannot sign in right now.';

export interface Response2 {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when the body isn't JSON. */
  json: Record<string, unknown> | undefined;
}

/** fetch without following redirects, with the body read once. */
export async function call(url: string, init: RequestInit = {}): Promise<Response2> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/**
 * Stops the server, then drops its database. gatehouse.close() alone can race: pg-pool resolves
 * end() as soon as it has *asked* its clients to disconnect, so the DROP DATABASE ... WITH (FORCE)
 * of the cleanup can terminate a backend whose client is still closing, and that client's
 * "terminating connection due to administrator command" error then surfaces as an uncaught
 * exception that fails the whole file. A short pause between the two lets the sockets close.
 */
/** A fresh server with one person in the group `staff`, signing in with PASSWORD: most files start so. */
export async function startWithStaff(kind: DatabaseKind, username: string): Promise<TestGatehouse> {
  const gatehouse = await startGatehouse(kind);
  await gatehouse.directory.users.create({ username, email: `${username}@example.com`, password: PASSWORD });
  await gatehouse.directory.groups.create('staff');
  await gatehouse.directory.groups.addMember('staff', username);
  return gatehouse;
}

export async function shutdown(gatehouse: TestGatehouse | undefined): Promise<void> {
  if (!gatehouse) return;
  await gatehouse.stop();
  await new Promise((resolve) => setTimeout(resolve, 150));
  await gatehouse.close();
}

export const basic = (clientId: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export interface ClientCredentials {
  clientId: string;
  clientSecret: string | null;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
}

/** Adds the client's own authentication, the way it is registered. */
function authenticate(credentials: ClientCredentials, params: URLSearchParams, headers: Headers): void {
  if (credentials.authMethod === 'client_secret_basic') headers.set('authorization', basic(credentials.clientId, credentials.clientSecret ?? ''));
  else {
    params.set('client_id', credentials.clientId);
    if (credentials.authMethod === 'client_secret_post') params.set('client_secret', credentials.clientSecret ?? '');
  }
}

/** POST to a client-authenticated endpoint (token, revoke, introspect), form-encoded. */
export function post(gatehouse: TestGatehouse, path: string, params: Record<string, string>, auth?: ClientCredentials | { authorization: string }): Promise<Response2> {
  const body = new URLSearchParams(params);
  const headers = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
  if (auth && 'authorization' in auth) headers.set('authorization', auth.authorization);
  else if (auth) authenticate(auth, body, headers);
  return call(`${gatehouse.issuer}${path}`, { method: 'POST', body, headers });
}

export const token = (gatehouse: TestGatehouse, params: Record<string, string>, auth?: ClientCredentials | { authorization: string }) =>
  post(gatehouse, '/oauth2/token', params, auth);

export const userinfo = (gatehouse: TestGatehouse, accessToken: string) =>
  call(`${gatehouse.issuer}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });

export async function introspect(gatehouse: TestGatehouse, value: string, auth: ClientCredentials): Promise<Record<string, unknown>> {
  const response = await post(gatehouse, '/oauth2/introspect', { token: value }, auth);
  assert.equal(response.status, 200, response.text);
  assert.ok(response.json);
  return response.json;
}

/** Text that must never reach a client: stack frames, source paths, internal error names. */
export function assertNoInternals(text: string, secrets: ReadonlyArray<string | null | undefined> = []): void {
  assert.doesNotMatch(text, /\n\s+at \S+ \(|\bat (?:async )?\S+:\d+:\d+/, 'no stack trace in the body');
  assert.doesNotMatch(text, /node_modules|\/src\/|\.ts:\d+|file:\/\//, 'no source path in the body');
  assert.doesNotMatch(text, /\b(?:TypeError|ReferenceError|SyntaxError|RangeError)\b|SQLITE_|duplicate key|relation "/, 'no internal error in the body');
  for (const secret of secrets) if (secret) assert.ok(!text.includes(secret), 'no secret or token in the body');
}

/** An OAuth error response from the token, revocation or introspection endpoint (RFC 6749 §5.2). */
export function assertOAuthError(response: Response2, status: number, error: string, secrets: ReadonlyArray<string | null | undefined> = []): void {
  assert.equal(response.status, status, `status ${response.status}: ${response.text}`);
  assert.ok(response.json, `a JSON error body: ${response.text}`);
  assert.equal(response.json.error, error, response.text);
  for (const name of ['access_token', 'refresh_token', 'id_token', 'code']) assert.equal(response.json[name], undefined, `no ${name} in an error response`);
  assert.equal(response.headers.get('location'), null);
  assertNoInternals(response.text, secrets);
}

/** Gatehouse's own HTML error page, shown when the request can't be sent back to the app. */
export function assertErrorPage(response: Response2, status = 400): void {
  assert.equal(response.status, status, response.text.slice(0, 500));
  assert.equal(response.headers.get('location'), null, 'no redirect');
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
  assert.ok(response.headers.get('content-security-policy'), 'the page has a CSP');
  assertNoInternals(response.text);
}

/** The error= of a redirect to the app, from its query or (for response_type=token) its fragment. */
export function redirectError(response: Response2, redirectUri = REDIRECT_URI): URLSearchParams {
  assert.equal(response.status, 303, `a redirect back to the app: ${response.text.slice(0, 300)}`);
  const location = response.headers.get('location') ?? '';
  assert.ok(location.startsWith(`${redirectUri}?`) || location.startsWith(`${redirectUri}#`), `redirects to the registered URI: ${location}`);
  const url = new URL(location);
  const params = new URLSearchParams(url.hash ? url.hash.slice(1) : url.search);
  for (const [name, value] of new URLSearchParams(url.search)) params.append(name, value);
  assert.equal(params.get('code'), null, 'no code in an error redirect');
  assert.equal(params.get('access_token'), null, 'no token in an error redirect');
  assert.equal(params.get('id_token'), null, 'no ID token in an error redirect');
  return params;
}

export function authorizationUrl(gatehouse: TestGatehouse, params: Record<string, string>): string {
  return `${gatehouse.issuer}/oauth2/auth?${new URLSearchParams(params)}`;
}

/** A valid S256 pair for hand-built authorization requests. */
export async function pkcePair(): Promise<{ verifier: string; challenge: string }> {
  const verifier = client.randomPKCECodeVerifier();
  return { verifier, challenge: await client.calculatePKCECodeChallenge(verifier) };
}

export interface TestApp {
  credentials: ClientCredentials;
  config: client.Configuration;
  id: string;
}

/** A user in a group, and the apps bound to that group; the usual setup of every security test. */
export async function createApp(
  gatehouse: TestGatehouse,
  options: { label: string; authMethod?: ClientCredentials['authMethod']; refreshToken?: boolean; redirectUris?: string[]; group?: string },
): Promise<TestApp> {
  const authMethod = options.authMethod ?? 'client_secret_basic';
  const { app, clientSecret } = await gatehouse.directory.apps.create({
    label: options.label,
    redirect_uris: options.redirectUris ?? [REDIRECT_URI],
    auth_method: authMethod,
    refresh_token: options.refreshToken ?? false,
    scopes: ['email', 'profile'],
  });
  if (options.group !== undefined) await gatehouse.directory.apps.bind(app.id, options.group);
  const credentials = { clientId: app.client_id, clientSecret, authMethod };
  const config = await discover({ issuer: gatehouse.issuer, ...credentials, redirectUri: (options.redirectUris ?? [REDIRECT_URI])[0] ?? REDIRECT_URI });
  return { credentials, config, id: app.id };
}

export interface IssuedCode {
  code: string;
  start: AuthorizationStart;
  browser: Browser;
  callbackUrl: URL;
}

/** Signs in through the HTML form (or reuses the browser's session) and stops at the app's redirect URI. */
export async function obtainCode(
  app: TestApp,
  username: string,
  options: { browser?: Browser; scope?: string; redirectUri?: string; password?: string; extra?: Record<string, string> } = {},
): Promise<IssuedCode> {
  const browser = options.browser ?? new Browser();
  const redirectUri = options.redirectUri ?? REDIRECT_URI;
  const start = await startAuthorization(app.config, redirectUri, options.scope ?? 'openid email', options.extra);
  const outcome = await browse(browser, start.url, redirectUri, { username, password: options.password ?? PASSWORD });
  if (!outcome.callbackUrl) throw new Error(`sign-in stopped at a page (${outcome.page?.status}): ${outcome.page?.html.slice(0, 500)}`);
  const code = outcome.callbackUrl.searchParams.get('code');
  if (!code) throw new Error(`no code: ${outcome.callbackUrl.href}`);
  return { code, start, browser, callbackUrl: outcome.callbackUrl };
}

/** Exchanges a code by hand (raw POST), as the app registered. */
export function exchange(gatehouse: TestGatehouse, app: TestApp, issued: IssuedCode, overrides: Record<string, string | undefined> = {}): Promise<Response2> {
  const params: Record<string, string> = {};
  const all = { grant_type: 'authorization_code', code: issued.code, redirect_uri: REDIRECT_URI, code_verifier: issued.start.codeVerifier, ...overrides };
  for (const [name, value] of Object.entries(all)) if (value !== undefined) params[name] = value;
  return token(gatehouse, params, app.credentials);
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  id_token: string;
}

/** A successful exchange, checked. */
export async function exchangeOk(gatehouse: TestGatehouse, app: TestApp, issued: IssuedCode): Promise<Tokens> {
  const response = await exchange(gatehouse, app, issued);
  assert.equal(response.status, 200, response.text);
  const body = response.json as unknown as Tokens;
  assert.equal(typeof body.access_token, 'string');
  return body;
}

/**
 * The sign-in page of a fresh authorization request: the browser holds the interaction cookie. The
 * page is the identifier step; `action` is where username and password are posted together in one
 * request (…/login, as password managers and scripts do), `identifyAction` the identifier step's.
 */
export async function openSignInPage(app: TestApp, browser = new Browser()) {
  const start = await startAuthorization(app.config, REDIRECT_URI, 'openid email');
  const step = await browser.follow(String(start.url), REDIRECT_URI);
  assert.ok(step.response, 'Gatehouse shows a page');
  const html = await step.response.text();
  assert.equal(step.response.status, 200, html.slice(0, 500));
  const form = parseForms(html).find((f) => f.fields.some((field) => field.name === 'username') && f.action.endsWith('/identify'));
  assert.ok(form, 'the sign-in form (identifier step)');
  const identifyAction = new URL(form.action, step.url).href;
  const action = identifyAction.replace(/\/identify$/, '/login');
  return { browser, start, pageUrl: step.url, form, action, identifyAction, csrf: form.fields.find((f) => f.name === 'csrf')?.value ?? '' };
}

/** Posts the sign-in form by hand, with exactly the given fields and headers. */
export async function postForm(browser: Browser, action: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response2> {
  const response = await browser.request(action, { method: 'POST', body: new URLSearchParams(fields), headers });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: undefined };
}

/** The alert shown on the sign-in page, if any. */
export function pageAlert(html: string): string | undefined {
  const match = html.match(/<div class="error" role="alert">([\s\S]*?)<\/div>/);
  return match?.[1]?.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));
}

export { Browser, client, parseForms };
