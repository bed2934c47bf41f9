import * as oauth from 'oauth4webapi';
import { config } from './config.ts';

/**
 * The console is an OpenID Connect public client of Gatehouse: authorization code + PKCE with
 * oauth4webapi. Tokens live in sessionStorage (this tab only, gone when it closes); the access
 * token is what the console sends to /api.
 */
const issuer = new URL(config.issuer);
const client: oauth.Client = { client_id: config.clientId };
const clientAuth = oauth.None();
const redirectUri = `${config.issuer}${config.basePath}/callback`;
export const signedOutUri = `${config.issuer}${config.basePath}/signed-out`;
// Plain http only where the issuer itself is (a laptop or a test); oauth4webapi refuses it otherwise.
const insecure = issuer.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {};

const SESSION = 'gatehouse.console.session';
const PENDING = 'gatehouse.console.pending';

interface Session {
  accessToken: string;
  idToken: string;
  expiresAt: number;
}

interface Pending {
  verifier: string;
  state: string;
  nonce: string;
  returnTo: string;
}

let server: Promise<oauth.AuthorizationServer> | undefined;
function authorizationServer(): Promise<oauth.AuthorizationServer> {
  server ??= oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }).then((response) => oauth.processDiscoveryResponse(issuer, response));
  server.catch(() => {
    server = undefined;
  });
  return server;
}

function readJson<T>(key: string): T | undefined {
  try {
    const value = sessionStorage.getItem(key);
    return value ? (JSON.parse(value) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** Where the person is in the console, to come back to after signing in. */
function currentPath(): string {
  const { pathname, search } = window.location;
  const path = pathname.startsWith(config.basePath) ? pathname.slice(config.basePath.length) || '/' : '/';
  return path === '/callback' || path === '/signed-out' ? '/' : `${path}${search}`;
}

/** The access token while it is valid, else undefined. */
export function accessToken(): string | undefined {
  const session = readJson<Session>(SESSION);
  return session && session.expiresAt > Date.now() ? session.accessToken : undefined;
}

export function forgetSession(): void {
  sessionStorage.removeItem(SESSION);
}

/** Off to Gatehouse's sign-in page; with a live Gatehouse session it comes straight back. Never resolves. */
export async function signIn(returnTo = currentPath()): Promise<never> {
  const as = await authorizationServer();
  if (!as.authorization_endpoint) throw new Error('The issuer has no authorization endpoint.');
  const pending: Pending = { verifier: oauth.generateRandomCodeVerifier(), state: oauth.generateRandomState(), nonce: oauth.generateRandomNonce(), returnTo };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid profile email',
    code_challenge: await oauth.calculatePKCECodeChallenge(pending.verifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
  }).toString();
  window.location.assign(url);
  return new Promise<never>(() => {});
}

export class SignInError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

let completing: Promise<string> | undefined;
/** Finishes the sign-in at /callback: checks state, exchanges the code, keeps the tokens. Returns where to go. */
export function completeSignIn(): Promise<string> {
  // React may mount the callback twice; the code can only be exchanged once.
  completing ??= (async () => {
    const pending = readJson<Pending>(PENDING);
    sessionStorage.removeItem(PENDING);
    if (!pending) throw new SignInError('no_pending_sign_in', 'This sign-in was not started here, or has already finished.');
    const as = await authorizationServer();
    let params: URLSearchParams;
    try {
      params = oauth.validateAuthResponse(as, client, new URL(window.location.href), pending.state);
    } catch (error) {
      if (error instanceof oauth.AuthorizationResponseError) throw new SignInError(error.error, error.error_description ?? error.error);
      throw error;
    }
    const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, pending.verifier, insecure);
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: pending.nonce, requireIdToken: true });
    // A little early, so that no request leaves with a token about to expire.
    const session: Session = { accessToken: result.access_token, idToken: result.id_token ?? '', expiresAt: Date.now() + ((result.expires_in ?? 3600) - 30) * 1000 };
    sessionStorage.setItem(SESSION, JSON.stringify(session));
    return pending.returnTo;
  })();
  return completing;
}

/** Revokes the access token and ends the Gatehouse session, then lands on /signed-out. Never resolves. */
export async function signOut(): Promise<never> {
  const session = readJson<Session>(SESSION);
  forgetSession();
  const as = await authorizationServer();
  if (session) {
    await oauth
      .revocationRequest(as, client, clientAuth, session.accessToken, insecure)
      .then((response) => oauth.processRevocationResponse(response))
      .catch(() => undefined);
  }
  if (!as.end_session_endpoint) {
    window.location.assign(signedOutUri);
    return new Promise<never>(() => {});
  }
  const url = new URL(as.end_session_endpoint);
  url.search = new URLSearchParams({
    client_id: client.client_id,
    post_logout_redirect_uri: signedOutUri,
    ...(session?.idToken ? { id_token_hint: session.idToken } : {}),
  }).toString();
  window.location.assign(url);
  return new Promise<never>(() => {});
}
