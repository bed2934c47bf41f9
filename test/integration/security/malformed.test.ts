/**
 * Malformed, oversized and hostile requests get a 4xx, never a 5xx, and never a stack trace: one
 * table of raw requests to every endpoint, each checked for status < 500, a body free of internals,
 * and, where a spec fixes it, the exact error code (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1,
 * RFC 7009, RFC 7662).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import {
  PASSWORD,
  REDIRECT_URI,
  type Response2,
  type TestApp,
  assertNoInternals,
  basic,
  call,
  createApp,
  openSignInPage,
  pkcePair,
  postForm,
  shutdown,
} from './support.ts';

interface Context {
  gatehouse: TestGatehouse;
  app: TestApp;
  /** A valid authorization request's parameters, to break one at a time. */
  authParams: Record<string, string>;
}

/** Where the spec fixes the outcome: the status, and the error code in the JSON body, the redirect, or the page. */
interface Expected {
  status?: number | number[];
  json?: string | string[];
  redirect?: string;
  page?: string;
}

interface Case {
  name: string;
  request(ctx: Context): Promise<Response2>;
  expect?: Expected;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const tokenPost = (ctx: Context, body: NonNullable<RequestInit['body']>, headers: Record<string, string> = FORM, auth = true) =>
  call(`${ctx.gatehouse.issuer}/oauth2/token`, {
    method: 'POST',
    body,
    headers: { ...headers, ...(auth ? { authorization: basic(ctx.app.credentials.clientId, ctx.app.credentials.clientSecret ?? '') } : {}) },
  });

const authGet = (ctx: Context, query: string) => call(`${ctx.gatehouse.issuer}/oauth2/auth?${query}`);
const authWith = (ctx: Context, changes: Record<string, string | undefined>) => {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...ctx.authParams, ...changes })) if (value !== undefined) params.set(name, value);
  return authGet(ctx, String(params));
};

const CASES: Case[] = [
  // Token endpoint.
  { name: 'token: a JSON body', request: (ctx) => tokenPost(ctx, JSON.stringify({ grant_type: 'authorization_code', code: 'x' }), { 'content-type': 'application/json' }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: a multipart body', request: (ctx) => { const form = new FormData(); form.set('grant_type', 'authorization_code'); return tokenPost(ctx, form, {}); }, expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: text/plain', request: (ctx) => tokenPost(ctx, 'grant_type=authorization_code', { 'content-type': 'text/plain' }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: an empty body', request: (ctx) => tokenPost(ctx, '', FORM), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: a 100 KB body', request: (ctx) => tokenPost(ctx, `grant_type=authorization_code&redirect_uri=x&code=${'x'.repeat(100 * 1024)}`), expect: { status: [400, 413] } },
  { name: 'token: a 1 MB body', request: (ctx) => tokenPost(ctx, `grant_type=authorization_code&code=${'x'.repeat(1024 * 1024)}`), expect: { status: [400, 413] } },
  { name: 'token: a 100 KB parameter name', request: (ctx) => tokenPost(ctx, `${'x'.repeat(100 * 1024)}=1&grant_type=authorization_code`), expect: { status: [400, 413] } },
  { name: 'token: a garbage grant_type', request: (ctx) => tokenPost(ctx, 'grant_type=garbage&code=x'), expect: { status: 400, json: 'unsupported_grant_type' } },
  { name: 'token: grant_type=password', request: (ctx) => tokenPost(ctx, 'grant_type=password&username=a&password=b'), expect: { status: 400, json: 'unsupported_grant_type' } },
  { name: 'token: grant_type=client_credentials', request: (ctx) => tokenPost(ctx, 'grant_type=client_credentials'), expect: { status: 400, json: 'unsupported_grant_type' } },
  { name: 'token: grant_type=implicit', request: (ctx) => tokenPost(ctx, 'grant_type=implicit'), expect: { status: 400, json: 'unsupported_grant_type' } },
  { name: 'token: a missing grant_type', request: (ctx) => tokenPost(ctx, 'code=x&redirect_uri=x'), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: a duplicate code', request: (ctx) => tokenPost(ctx, `grant_type=authorization_code&code=a&code=b&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: a duplicate grant_type', request: (ctx) => tokenPost(ctx, 'grant_type=authorization_code&grant_type=refresh_token&code=a'), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: a duplicate client_id', request: (ctx) => tokenPost(ctx, `grant_type=authorization_code&code=a&client_id=${ctx.app.credentials.clientId}&client_id=${ctx.app.credentials.clientId}`, FORM, false), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: a missing code', request: (ctx) => tokenPost(ctx, `grant_type=authorization_code&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`), expect: { status: 400, json: 'invalid_request' } },
  // RFC 6749 §5.2 reads both ways here ("missing a required parameter" / "no client authentication included").
  { name: 'token: no client_id and no authentication at all', request: (ctx) => tokenPost(ctx, 'grant_type=authorization_code&code=a&redirect_uri=x', FORM, false), expect: { status: [400, 401], json: ['invalid_request', 'invalid_client'] } },
  { name: 'token: Basic and client_secret together', request: (ctx) => tokenPost(ctx, `grant_type=authorization_code&code=a&client_id=${ctx.app.credentials.clientId}&client_secret=${ctx.app.credentials.clientSecret}`), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: an Authorization header that is not base64', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/token`, { method: 'POST', body: 'grant_type=authorization_code', headers: { ...FORM, authorization: 'Basic %%%' } }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: a Basic header with bad percent-encoding', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/token`, { method: 'POST', body: 'grant_type=authorization_code', headers: { ...FORM, authorization: `Basic ${Buffer.from('%ff:%zz').toString('base64')}` } }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'token: a Basic header with an empty secret', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/token`, { method: 'POST', body: 'grant_type=authorization_code&code=a', headers: { ...FORM, authorization: basic(ctx.app.credentials.clientId, '') } }), expect: { status: [400, 401], json: ['invalid_request', 'invalid_client'] } },
  { name: 'token: a Bearer header', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/token`, { method: 'POST', body: 'grant_type=authorization_code&code=a', headers: { ...FORM, authorization: 'Bearer abc' } }), expect: { status: [400, 401] } },
  { name: 'token: percent garbage in the body', request: (ctx) => tokenPost(ctx, 'grant_type=%ff%fe&code=%&redirect_uri=%E0%A4%A') },
  // NUL bytes: PostgreSQL text can't hold U+0000, so each one must be refused before it reaches a query.
  { name: 'token: a NUL byte in the code', request: (ctx) => tokenPost(ctx, `grant_type=authorization_code&code=a%00b&redirect_uri=${encodeURIComponent(REDIRECT_URI)}`), expect: { status: 400, json: 'invalid_grant' } },
  { name: 'token: a NUL byte in the refresh_token', request: (ctx) => tokenPost(ctx, 'grant_type=refresh_token&refresh_token=a%00b'), expect: { status: 400, json: 'invalid_grant' } },
  { name: 'token: a NUL byte in the client_id', request: (ctx) => tokenPost(ctx, 'grant_type=authorization_code&code=a&client_id=a%00b', FORM, false), expect: { status: 401, json: 'invalid_client' } },
  { name: 'token: an array-style parameter', request: (ctx) => tokenPost(ctx, 'grant_type[]=authorization_code&code[]=a') },
  { name: 'token: GET', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/token?grant_type=authorization_code`) },
  { name: 'token: a lying Content-Encoding', request: (ctx) => tokenPost(ctx, 'grant_type=x', { ...FORM, 'content-encoding': 'gzip' }) },

  // Authorization endpoint.
  { name: 'auth: a 20 KB query', request: (ctx) => authWith(ctx, { state: 'x'.repeat(20 * 1024) }) },
  { name: 'auth: a 6 KB state (fits the header limit)', request: (ctx) => authWith(ctx, { state: 'x'.repeat(6 * 1024) }) },
  { name: 'auth: an unknown response_type', request: (ctx) => authWith(ctx, { response_type: 'garbage' }), expect: { redirect: 'unsupported_response_type' } },
  { name: 'auth: response_type=token (implicit is off)', request: (ctx) => authWith(ctx, { response_type: 'token' }), expect: { redirect: 'unsupported_response_type' } },
  { name: 'auth: response_type=id_token', request: (ctx) => authWith(ctx, { response_type: 'id_token' }), expect: { redirect: 'unsupported_response_type' } },
  { name: 'auth: response_type=code id_token (hybrid is off)', request: (ctx) => authWith(ctx, { response_type: 'code id_token' }), expect: { redirect: 'unsupported_response_type' } },
  { name: 'auth: a missing response_type', request: (ctx) => authWith(ctx, { response_type: undefined }), expect: { redirect: 'invalid_request' } },
  // OIDC Core §3.1.2.1: without openid the request is plain OAuth 2.0, whose handling is unspecified.
  { name: 'auth: no openid scope', request: (ctx) => authWith(ctx, { scope: 'email' }) },
  { name: 'auth: no scope at all', request: (ctx) => authWith(ctx, { scope: undefined }) },
  { name: 'auth: an unknown scope', request: (ctx) => authWith(ctx, { scope: 'openid admin write:everything' }) },
  { name: 'auth: an unknown client_id', request: (ctx) => authWith(ctx, { client_id: '00000000-0000-4000-8000-000000000000' }), expect: { page: 'invalid_client' } },
  { name: 'auth: a garbage client_id', request: (ctx) => authWith(ctx, { client_id: '<script>alert(1)</script>' }), expect: { page: 'invalid_client' } },
  { name: 'auth: a missing client_id', request: (ctx) => authWith(ctx, { client_id: undefined }), expect: { page: 'invalid_request' } },
  { name: 'auth: a duplicate client_id', request: (ctx) => authGet(ctx, `${new URLSearchParams(ctx.authParams)}&client_id=${ctx.app.credentials.clientId}`), expect: { page: 'invalid_request' } },
  { name: 'auth: a duplicate scope', request: (ctx) => authGet(ctx, `${new URLSearchParams(ctx.authParams)}&scope=openid`), expect: { redirect: 'invalid_request' } },
  { name: 'auth: a request object', request: (ctx) => authWith(ctx, { request: 'eyJhbGciOiJub25lIn0.e30.' }), expect: { redirect: 'request_not_supported' } },
  { name: 'auth: a request_uri', request: (ctx) => authWith(ctx, { request_uri: 'https://attacker.example/request.jwt' }), expect: { redirect: 'request_uri_not_supported' } },
  { name: 'auth: an unknown response_mode', request: (ctx) => authWith(ctx, { response_mode: 'garbage' }) },
  { name: 'auth: response_mode=fragment for code', request: (ctx) => authWith(ctx, { response_mode: 'fragment' }) },
  { name: 'auth: a bad max_age', request: (ctx) => authWith(ctx, { max_age: '-1' }), expect: { redirect: 'invalid_request' } },
  { name: 'auth: a garbage prompt', request: (ctx) => authWith(ctx, { prompt: 'garbage' }), expect: { redirect: 'invalid_request' } },
  { name: 'auth: prompt=none with login', request: (ctx) => authWith(ctx, { prompt: 'none login' }), expect: { redirect: 'invalid_request' } },
  { name: 'auth: a garbage claims parameter', request: (ctx) => authWith(ctx, { claims: '{not json' }), expect: { redirect: 'invalid_request' } },
  { name: 'auth: a garbage id_token_hint', request: (ctx) => authWith(ctx, { id_token_hint: 'garbage' }), expect: { redirect: 'invalid_request' } },
  { name: 'auth: percent garbage in the query', request: (ctx) => authGet(ctx, `client_id=%ff%fe%&redirect_uri=%E0%A4%A&scope=%&response_type=%c0%af`) },
  { name: 'auth: overlong UTF-8 in the redirect_uri', request: (ctx) => authGet(ctx, `${new URLSearchParams({ ...ctx.authParams, redirect_uri: 'x' })}`.replace('redirect_uri=x', 'redirect_uri=https%3A%2F%2Fapp.example.test%2Fcallback%c0%ae%c0%ae')), expect: { page: 'invalid_redirect_uri' } },
  { name: 'auth: NUL bytes in state and nonce', request: (ctx) => authWith(ctx, { state: 'a\u0000b', nonce: '\u0000' }) },
  { name: 'auth: a NUL byte in the client_id', request: (ctx) => authWith(ctx, { client_id: 'a\u0000b' }), expect: { page: 'invalid_client' } },
  { name: 'auth: a NUL byte in the resume uid', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/auth/a%00b`), expect: { status: 400 } },
  { name: 'auth: array-style parameters', request: (ctx) => authGet(ctx, `client_id[]=x&redirect_uri[]=y&${new URLSearchParams(ctx.authParams)}`) },
  { name: 'auth: POST (OIDC Core §3.1.2.1; see post-requests.test.ts)', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/auth`, { method: 'POST', body: new URLSearchParams(ctx.authParams) }) },
  { name: 'auth: an unknown resume uid', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/auth/not-a-uid`) },
  { name: 'auth: garbage session cookies', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/auth?${new URLSearchParams(ctx.authParams)}`, { headers: { cookie: '_session=%ff%; _session.sig=@@@; _session.legacy=x; _interaction_resume=\u00ff' } }) },

  // Userinfo (RFC 6750).
  { name: 'userinfo: "Bearer" without a token', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`, { headers: { authorization: 'Bearer' } }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'userinfo: "Bearer a b"', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`, { headers: { authorization: 'Bearer a b' } }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'userinfo: a Basic header', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`, { headers: { authorization: 'Basic YTpi' } }), expect: { status: [400, 401] } },
  { name: 'userinfo: a made-up token', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`, { headers: { authorization: 'Bearer not-a-token' } }), expect: { status: 401, json: 'invalid_token' } },
  { name: 'userinfo: a JWT-looking token', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`, { headers: { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' } }), expect: { status: 401, json: 'invalid_token' } },
  { name: 'userinfo: a 10 KB token', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`, { headers: { authorization: `Bearer ${'a'.repeat(10 * 1024)}` } }), expect: { status: 401, json: 'invalid_token' } },
  { name: 'userinfo: a non-ASCII token', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`, { headers: { authorization: 'Bearer \u00e9\u00ff' } }), expect: { status: [400, 401] } },
  { name: 'userinfo: no Authorization header', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`), expect: { status: [400, 401] } },
  { name: 'userinfo: the token in the query string', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo?access_token=abc`), expect: { status: 400, json: 'invalid_request' } },
  { name: 'userinfo: the token twice', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo?access_token=abc`, { headers: { authorization: 'Bearer abc' } }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'userinfo: POST with a garbage form', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`, { method: 'POST', body: '%ff=%&access_token=%', headers: FORM }), expect: { status: [400, 401] } },
  { name: 'userinfo: a NUL byte in a form-posted token', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo`, { method: 'POST', body: 'access_token=a%00b', headers: FORM }), expect: { status: 401, json: 'invalid_token' } },
  { name: 'userinfo: percent garbage in the query', request: (ctx) => call(`${ctx.gatehouse.issuer}/userinfo?%ff%`) },

  // Introspection and revocation.
  { name: 'introspect: unauthenticated', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/introspect`, { method: 'POST', body: 'token=x', headers: FORM }), expect: { status: [400, 401], json: ['invalid_request', 'invalid_client'] } },
  { name: 'introspect: a wrong secret', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/introspect`, { method: 'POST', body: 'token=x', headers: { ...FORM, authorization: basic(ctx.app.credentials.clientId, 'wrong') } }), expect: { status: 401, json: 'invalid_client' } },
  { name: 'introspect: no token parameter', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/introspect`, { method: 'POST', body: '', headers: { ...FORM, authorization: basic(ctx.app.credentials.clientId, ctx.app.credentials.clientSecret ?? '') } }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'introspect: a JSON body', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/introspect`, { method: 'POST', body: '{"token":"x"}', headers: { 'content-type': 'application/json', authorization: basic(ctx.app.credentials.clientId, ctx.app.credentials.clientSecret ?? '') } }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'introspect: a NUL byte in the token', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/introspect`, { method: 'POST', body: 'token=a%00b', headers: { ...FORM, authorization: basic(ctx.app.credentials.clientId, ctx.app.credentials.clientSecret ?? '') } }), expect: { status: 200 } },
  { name: 'revoke: unauthenticated', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/revoke`, { method: 'POST', body: 'token=x', headers: FORM }), expect: { status: [400, 401], json: ['invalid_request', 'invalid_client'] } },
  { name: 'revoke: no token parameter', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/revoke`, { method: 'POST', body: '', headers: { ...FORM, authorization: basic(ctx.app.credentials.clientId, ctx.app.credentials.clientSecret ?? '') } }), expect: { status: 400, json: 'invalid_request' } },
  { name: 'revoke: a NUL byte in the token', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/revoke`, { method: 'POST', body: 'token=a%00b', headers: { ...FORM, authorization: basic(ctx.app.credentials.clientId, ctx.app.credentials.clientSecret ?? '') } }), expect: { status: 200 } },
  { name: 'revoke: a 100 KB token', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/revoke`, { method: 'POST', body: `token=${'x'.repeat(100 * 1024)}`, headers: { ...FORM, authorization: basic(ctx.app.credentials.clientId, ctx.app.credentials.clientSecret ?? '') } }), expect: { status: [200, 400, 413] } },

  // Interaction routes (Gatehouse's own pages).
  { name: 'interaction: an unknown uid', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid`), expect: { status: 400 } },
  { name: 'interaction: POST login with an unknown uid', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid/login`, { method: 'POST', body: 'csrf=x&username=a&password=b', headers: FORM }), expect: { status: 400 } },
  { name: 'interaction: POST abort with an unknown uid', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid/abort`, { method: 'POST', body: 'csrf=x', headers: FORM }), expect: { status: 400 } },
  { name: 'interaction: PUT', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid`, { method: 'PUT', body: 'x' }), expect: { status: [404, 405] } },
  { name: 'interaction: DELETE', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid`, { method: 'DELETE' }), expect: { status: [404, 405] } },
  { name: 'interaction: GET of the login action', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid/login`), expect: { status: [404, 405] } },
  { name: 'interaction: a non-UTF-8 uid', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/%ff%fe`), expect: { status: 400 } },
  { name: 'interaction: a 500-character uid', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/${'a'.repeat(500)}`) },
  { name: 'interaction: garbage interaction cookies', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid`, { headers: { cookie: '_interaction=%ff%; _interaction.sig=@@@' } }), expect: { status: 400 } },
  { name: 'interaction: a broken JSON body', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid/login`, { method: 'POST', body: '{"csrf":', headers: { 'content-type': 'application/json' } }), expect: { status: 400 } },
  { name: 'interaction: an XML body', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid/login`, { method: 'POST', body: '<a/>', headers: { 'content-type': 'application/xml' } }), expect: { status: 415 } },
  { name: 'interaction: a 1 MB form', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/not-a-uid/login`, { method: 'POST', body: `csrf=x&password=${'x'.repeat(1024 * 1024)}`, headers: FORM }), expect: { status: 413 } },
  {
    name: 'interaction: a 1 MB form to a live sign-in page',
    async request(ctx) {
      const page = await openSignInPage(ctx.app);
      return postForm(page.browser, page.action, { csrf: page.csrf, username: 'mal', password: 'x'.repeat(1024 * 1024) });
    },
    expect: { status: 413 },
  },
  {
    name: 'interaction: a 20 KB form (over the 16 KB form limit) to a live page',
    async request(ctx) {
      const page = await openSignInPage(ctx.app);
      return postForm(page.browser, page.action, { csrf: page.csrf, username: 'u'.repeat(10 * 1024), password: 'x'.repeat(10 * 1024) });
    },
    expect: { status: 413 },
  },
  {
    name: 'interaction: a 4 KB username and a 4 KB password on a live page',
    async request(ctx) {
      const page = await openSignInPage(ctx.app);
      return postForm(page.browser, page.action, { csrf: page.csrf, username: 'u'.repeat(4 * 1024), password: 'x'.repeat(4 * 1024) });
    },
    expect: { status: 200 },
  },
  {
    name: 'interaction: a NUL byte in the username on a live page',
    async request(ctx) {
      const page = await openSignInPage(ctx.app);
      return postForm(page.browser, page.action, { csrf: page.csrf, username: 'mal\u0000', password: 'wrong-password-1' });
    },
    expect: { status: 200 },
  },
  {
    name: 'interaction: percent garbage in the form on a live page',
    async request(ctx) {
      const page = await openSignInPage(ctx.app);
      const response = await page.browser.request(page.action, { method: 'POST', body: `csrf=${encodeURIComponent(page.csrf)}&username=%ff%fe%&password=%c0%af`, headers: FORM });
      return { status: response.status, headers: response.headers, text: await response.text(), json: undefined };
    },
  },
  {
    name: 'interaction: array-valued fields on a live page',
    async request(ctx) {
      const page = await openSignInPage(ctx.app);
      const body = new URLSearchParams([['csrf', page.csrf], ['username', 'mal'], ['username', 'x'], ['password', PASSWORD], ['password', 'y']]);
      const response = await page.browser.request(page.action, { method: 'POST', body });
      return { status: response.status, headers: response.headers, text: await response.text(), json: undefined };
    },
  },

  // Everything else.
  { name: 'logout: a garbage id_token_hint', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/sessions/logout?id_token_hint=garbage`), expect: { status: 400 } },
  { name: 'logout: a NUL byte in the client_id', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/sessions/logout?client_id=a%00b`), expect: { status: 400 } },
  { name: 'logout: a forged confirmation', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/sessions/logout/confirm`, { method: 'POST', body: 'xsrf=1&logout=yes', headers: FORM }), expect: { status: 400 } },
  { name: 'an unknown oauth2 path', request: (ctx) => call(`${ctx.gatehouse.issuer}/oauth2/nope`), expect: { status: 404 } },
  { name: 'discovery with percent garbage', request: (ctx) => call(`${ctx.gatehouse.issuer}/.well-known/openid-configuration?%ff%`), expect: { status: 200 } },
  { name: 'POST to the JWKS', request: (ctx) => call(`${ctx.gatehouse.issuer}/.well-known/jwks.json`, { method: 'POST', body: 'x' }) },
  { name: 'the home page with percent garbage', request: (ctx) => call(`${ctx.gatehouse.issuer}/?%ff%`) },
  { name: 'a path traversal', request: (ctx) => call(`${ctx.gatehouse.issuer}/interaction/..%2f..%2f..%2fetc%2fpasswd`) },
];

function check(response: Response2, expect: Expected | undefined, issuer: string) {
  assert.ok(response.status < 500, `never a 5xx: ${response.status} ${response.text.slice(0, 300)}`);
  assert.ok(response.status >= 200, String(response.status));
  assertNoInternals(response.text);
  const location = response.headers.get('location');
  if (location) {
    // A redirect goes to the registered URI, to Gatehouse's own pages (at the issuer), or nowhere.
    assert.ok(location.startsWith(`${REDIRECT_URI}?`) || location.startsWith(`${REDIRECT_URI}#`) || location.startsWith(`${issuer}/`), `redirect target: ${location}`);
    assert.doesNotMatch(location, /[\r\n]/);
    assert.doesNotMatch(location, /[?&#](code|access_token|id_token)=/, `no credentials in a redirect of a malformed request: ${location}`);
  }
  if (!expect) return;
  if (expect.status !== undefined) {
    const allowed = Array.isArray(expect.status) ? expect.status : [expect.status];
    assert.ok(allowed.includes(response.status), `status ${response.status}, expected ${allowed.join(' or ')}: ${response.text.slice(0, 300)}`);
  }
  if (expect.json !== undefined) {
    const allowed = Array.isArray(expect.json) ? expect.json : [expect.json];
    assert.ok(response.json, `a JSON body: ${response.text.slice(0, 300)}`);
    assert.ok(allowed.includes(String(response.json.error)), `error ${String(response.json.error)}, expected ${allowed.join(' or ')}`);
    if (response.status === 401 && response.json.error === 'invalid_token') assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer /);
  }
  if (expect.redirect !== undefined) {
    assert.equal(response.status, 303, response.text.slice(0, 300));
    const url = new URL(location ?? '');
    const params = new URLSearchParams(url.hash ? url.hash.slice(1) : url.search);
    assert.equal(params.get('error'), expect.redirect, location ?? '');
    assert.equal(params.get('code'), null);
  }
  if (expect.page !== undefined) {
    assert.equal(response.status, 400);
    assert.equal(location, null, 'no redirect when the client or redirect URI is not trusted');
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(response.text, new RegExp(`<dd>${expect.page}</dd>`));
  }
}

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`malformed and oversized requests (${kind})`, { skip }, () => {
    const ctx = {} as Context;

    before(async () => {
      ctx.gatehouse = await startGatehouse(kind);
      await ctx.gatehouse.directory.groups.create('staff');
      await ctx.gatehouse.directory.users.create({ username: 'mal', email: 'mal@example.com', password: PASSWORD });
      await ctx.gatehouse.directory.groups.addMember('staff', 'mal');
      ctx.app = await createApp(ctx.gatehouse, { label: 'Malformed', group: 'staff', refreshToken: true });
      const { challenge } = await pkcePair();
      ctx.authParams = {
        client_id: ctx.app.credentials.clientId,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: REDIRECT_URI,
        state: 'st',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      };
    });
    after(() => shutdown(ctx.gatehouse));

    for (const item of CASES) {
      test(item.name, async () => {
        check(await item.request(ctx), item.expect, ctx.gatehouse.issuer);
      });
    }

    test('a CR/LF in state is encoded in the redirect, not turned into a header', async () => {
      const response = await call(`${ctx.gatehouse.issuer}/oauth2/auth?${new URLSearchParams({ ...ctx.authParams, response_type: 'bogus', state: 'x\r\nSet-Cookie: evil=1' })}`);
      check(response, { redirect: 'unsupported_response_type' }, ctx.gatehouse.issuer);
      assert.ok(!response.headers.getSetCookie().some((cookie) => cookie.startsWith('evil')));
      assert.equal(new URL(response.headers.get('location') ?? '').searchParams.get('state'), 'x\r\nSet-Cookie: evil=1', 'state round-trips, encoded');
    });

    test('the server still serves a normal request after all that', async () => {
      const response = await call(`${ctx.gatehouse.issuer}/.well-known/openid-configuration`);
      assert.equal(response.status, 200);
      assert.equal(response.json?.issuer, ctx.gatehouse.issuer);
    });
  });
}
