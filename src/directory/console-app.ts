import type { AppRow } from './apps.ts';

/**
 * The admin console is an OpenID Connect client of Gatehouse itself: a public client (PKCE) that
 * exists without a row in the apps table, so that no administrator can delete, rebind or lock
 * themselves out of it. Its client_id can't collide with a registered app's (those are UUIDs).
 */
export const CONSOLE_CLIENT_ID = 'gatehouse-admin-console';
export const CONSOLE_LABEL = 'Gatehouse Admin Console';
export const CONSOLE_PATH = '/admin';

/** The console's redirect URIs hang off the issuer, so they follow it when it changes. */
export function consoleAppRow(issuer: string): AppRow {
  const at = new Date(0).toISOString();
  return {
    id: 'admin-console',
    label: CONSOLE_LABEL,
    description: 'The web console administrators sign in to.',
    icon: null,
    active: 1,
    client_id: CONSOLE_CLIENT_ID,
    client_secret_hash: null,
    redirect_uris: JSON.stringify([`${issuer}${CONSOLE_PATH}/callback`]),
    post_logout_redirect_uris: JSON.stringify([`${issuer}${CONSOLE_PATH}/signed-out`]),
    login_url: `${issuer}${CONSOLE_PATH}/`,
    auth_method: 'none',
    refresh_token: 0,
    scopes: JSON.stringify(['profile', 'email']),
    attribute_map: '[]',
    groups_claim: null,
    refresh_token_ttl: 0, // no refresh tokens; its grants last as long as the session (clients.ts)
    refresh_token_reuse_interval: 0,
    // Administrators reach the console through their own link in the portal, not an app tile.
    show_in_portal: 0,
    send_iss_on_launch: 1,
    created_at: at,
    updated_at: at,
  };
}

/**
 * The user portal at the issuer's root is Gatehouse's other built-in client: every active person
 * may sign in to it (no group binding), and its access token reaches only the self-service API
 * under /api/me/ (http/plugins/api-auth.ts). One Gatehouse session covers it and every app.
 */
export const PORTAL_CLIENT_ID = 'gatehouse-user-portal';
export const PORTAL_LABEL = 'Gatehouse User Portal';

export function portalAppRow(issuer: string): AppRow {
  return {
    ...consoleAppRow(issuer),
    id: 'user-portal',
    label: PORTAL_LABEL,
    description: 'The home page where every person finds their apps, profile, security and sessions.',
    client_id: PORTAL_CLIENT_ID,
    redirect_uris: JSON.stringify([`${issuer}/callback`]),
    post_logout_redirect_uris: JSON.stringify([`${issuer}/signed-out`]),
    login_url: `${issuer}/`,
  };
}

/** Gatehouse's own clients, which have no row in the apps table. */
export const BUILTIN_CLIENT_IDS: readonly string[] = [CONSOLE_CLIENT_ID, PORTAL_CLIENT_ID];
