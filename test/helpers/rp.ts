/**
 * A relying party built on openid-client v6, the way a real app uses it, plus the person who signs
 * in through Gatehouse's HTML form (see browser.ts). Nothing here talks to Gatehouse's internals.
 */
import * as client from 'openid-client';
import { Browser, parseForms } from './browser.ts';

export interface RelyingPartyOptions {
  issuer: string;
  clientId: string;
  clientSecret?: string | null | undefined;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
  redirectUri: string;
}

export async function discover(options: RelyingPartyOptions): Promise<client.Configuration> {
  const auth =
    options.authMethod === 'none' ? client.None()
    : options.authMethod === 'client_secret_post' ? client.ClientSecretPost(options.clientSecret ?? '')
    : client.ClientSecretBasic(options.clientSecret ?? '');
  return client.discovery(new URL(options.issuer), options.clientId, { redirect_uris: [options.redirectUri] }, auth, {
    execute: [client.allowInsecureRequests],
  });
}

export interface AuthorizationStart {
  url: URL;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export async function startAuthorization(config: client.Configuration, redirectUri: string, scope: string, extra: Record<string, string> = {}): Promise<AuthorizationStart> {
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  return { url, state, nonce, codeVerifier };
}

export interface SignInOutcome {
  /** Where the browser ended up: the app's redirect URI with code or error, or a Gatehouse page. */
  callbackUrl?: URL;
  page?: { url: string; status: number; html: string };
}

/**
 * Opens the authorization URL in the browser; when Gatehouse shows its sign-in pages, types the
 * username into the identifier step and the password into the password step. Stops at the app's
 * redirect URI (not fetched) or at a page that isn't one of the two (an error, "no access", or the
 * password step again after a refused password).
 */
export async function browse(browser: Browser, url: URL | string, redirectUri: string, credentials?: { username: string; password: string }): Promise<SignInOutcome> {
  let step = await browser.follow(String(url), redirectUri);
  let identified = false;
  let passwordSent = false;
  for (let pages = 0; pages < 4; pages++) {
    if (!step.response) return { callbackUrl: new URL(step.url) };
    const html = await step.response.text();
    const forms = parseForms(html);
    const has = (form: (typeof forms)[number], name: string) => form.fields.some((field) => field.name === name);
    const passwordForm = forms.find((f) => has(f, 'password'));
    const identifierForm = forms.find((f) => has(f, 'username') && !has(f, 'password') && f.action.endsWith('/identify'));
    const page = { page: { url: step.url, status: step.response.status, html } };
    if (!credentials) return page;
    if (passwordForm && !passwordSent) {
      passwordSent = true;
      step = await browser.submit(step.url, passwordForm, credentials, redirectUri);
    } else if (identifierForm && !identified && !passwordSent && step.response.status === 200) {
      identified = true;
      step = await browser.submit(step.url, identifierForm, { username: credentials.username }, redirectUri);
    } else {
      return page;
    }
  }
  throw new Error('sign-in did not finish');
}

/** The whole authorization-code flow with PKCE, state and nonce, ending with the token response. */
export async function signIn(config: client.Configuration, options: { redirectUri: string; scope: string; username: string; password: string; browser?: Browser; extra?: Record<string, string> }) {
  const browser = options.browser ?? new Browser();
  const start = await startAuthorization(config, options.redirectUri, options.scope, options.extra);
  const outcome = await browse(browser, start.url, options.redirectUri, { username: options.username, password: options.password });
  if (!outcome.callbackUrl) throw new Error(`sign-in stopped at a page (${outcome.page?.status}): ${outcome.page?.html.slice(0, 500)}`);
  const tokens = await client.authorizationCodeGrant(config, outcome.callbackUrl, {
    pkceCodeVerifier: start.codeVerifier,
    expectedState: start.state,
    expectedNonce: start.nonce,
    idTokenExpected: true,
  });
  return { tokens, browser, start, callbackUrl: outcome.callbackUrl };
}

export { client };
