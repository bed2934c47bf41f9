import { PORTAL_CLIENT_ID } from '../../src/directory/console-app.ts';
import type { Browser } from './browser.ts';
import type { TestGatehouse } from './gatehouse.ts';
import { discover, signIn } from './rp.ts';

/**
 * Signs a person in to the user portal the way its page does: Gatehouse's own sign-in pages, the
 * built-in public client, PKCE. The browser keeps the Gatehouse session cookie: pass it again to
 * sign in silently (single sign-on), or a new one for a second session.
 */
export async function portalSignIn(gatehouse: TestGatehouse, username: string, password: string, options: { browser?: Browser } = {}) {
  const redirectUri = `${gatehouse.issuer}/callback`;
  const portal = await discover({ issuer: gatehouse.issuer, clientId: PORTAL_CLIENT_ID, authMethod: 'none', redirectUri });
  const { tokens, browser } = await signIn(portal, { redirectUri, scope: 'openid profile email', username, password, ...(options.browser ? { browser: options.browser } : {}) });
  return { accessToken: tokens.access_token, idToken: tokens.id_token ?? '', claims: tokens.claims(), browser, portal };
}
