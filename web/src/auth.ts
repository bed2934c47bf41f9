import * as oauth from 'oauth4webapi';
import { type ClientConfig, config as consoleConfig, type WebApp } from './config.ts';

/**
 * The console and the portal are each an OpenID Connect public client of Gatehouse: authorization
 * code + PKCE with oauth4webapi. Tokens live in sessionStorage (this tab only, gone when it closes),
 * under keys of each app's own; the access token is what the app sends to /api.
 */

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

export class SignInError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface Auth {
  /** The access token while it is valid, else undefined. */
  accessToken(): string | undefined;
  /** The ID token of the sign-in, for what the app shows about the person before its API answers. */
  idToken(): string | undefined;
  forgetSession(): void;
  /** Off to Gatehouse's sign-in page; with a live Gatehouse session it comes straight back. Never resolves. */
  signIn(returnTo?: string): Promise<never>;
  /** Finishes the sign-in at /callback: checks state, exchanges the code, keeps the tokens. Returns where to go. */
  completeSignIn(): Promise<string>;
  /** Revokes the access token and ends the Gatehouse session, then lands on /signed-out. Never resolves. */
  signOut(): Promise<never>;
  signedOutUri: string;
}

/** The sign-in of one web app (`app` names its sessionStorage keys). */
export function createAuth(config: ClientConfig, app: WebApp): Auth {
  const issuer = new URL(config.issuer);
  const client: oauth.Client = { client_id: config.clientId };
  const clientAuth = oauth.None();
  const redirectUri = `${config.issuer}${config.basePath}/callback`;
  const signedOutUri = `${config.issuer}${config.basePath}/signed-out`;
  // Plain http only where the issuer itself is (a laptop or a test); oauth4webapi refuses it otherwise.
  const insecure = issuer.protocol === 'http:' ? { [oauth.allowInsecureRequests]: true } : {};

  const SESSION = `gatehouse.${app}.session`;
  const PENDING = `gatehouse.${app}.pending`;

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

  /** Where the person is in the app, to come back to after signing in. */
  function currentPath(): string {
    const { pathname, search } = window.location;
    const path = pathname.startsWith(config.basePath) ? pathname.slice(config.basePath.length) || '/' : '/';
    return path === '/callback' || path === '/signed-out' ? '/' : `${path}${search}`;
  }

  function accessToken(): string | undefined {
    const session = readJson<Session>(SESSION);
    return session && session.expiresAt > Date.now() ? session.accessToken : undefined;
  }

  function idToken(): string | undefined {
    return readJson<Session>(SESSION)?.idToken || undefined;
  }

  function forgetSession(): void {
    sessionStorage.removeItem(SESSION);
  }

  async function signIn(returnTo = currentPath()): Promise<never> {
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

  let completing: Promise<string> | undefined;
  function completeSignIn(): Promise<string> {
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

  async function signOut(): Promise<never> {
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

  return { accessToken, idToken, forgetSession, signIn, completeSignIn, signOut, signedOutUri };
}

/** The admin console's sign-in. */
const consoleAuth = createAuth(consoleConfig, 'console');
export const { accessToken, forgetSession, signIn, completeSignIn, signOut, signedOutUri } = consoleAuth;
