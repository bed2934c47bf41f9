import type { AdapterPayload, ClientAuthMethod } from 'oidc-provider';
import type { AppRow } from '../directory/apps.ts';

/**
 * An app as oidc-provider sees it. The "secret" handed over is the stored hash: the provider's
 * secret comparison is replaced (see provider.ts) to hash what the client presents.
 */
const built = new WeakMap<AppRow, AdapterPayload | undefined>();

/**
 * Built once per app row object: the access resolver keeps rows in memory while the directory is
 * unchanged (SQLite), so the client look-up on every protocol request parses nothing.
 */
export function clientMetadata(app: AppRow): AdapterPayload | undefined {
  if (built.has(app)) return built.get(app);
  const metadata = buildClientMetadata(app);
  // Shared by every request from now on: nobody may change it.
  if (metadata) for (const value of [metadata, ...Object.values(metadata)]) if (typeof value === 'object' && value !== null) Object.freeze(value);
  built.set(app, metadata);
  return metadata;
}

function buildClientMetadata(app: AppRow): AdapterPayload | undefined {
  // A confidential app without a secret (switched from public) stays unusable until one is issued.
  if (app.auth_method !== 'none' && !app.client_secret_hash) return undefined;
  const scopes = ['openid', ...(JSON.parse(app.scopes) as string[])];
  const grantTypes = ['authorization_code'];
  if (app.refresh_token === 1) {
    grantTypes.push('refresh_token');
    scopes.push('offline_access');
  }
  const metadata: AdapterPayload = {
    client_id: app.client_id,
    client_name: app.label,
    application_type: 'web',
    redirect_uris: JSON.parse(app.redirect_uris) as string[],
    post_logout_redirect_uris: JSON.parse(app.post_logout_redirect_uris) as string[],
    response_types: ['code'],
    grant_types: grantTypes,
    token_endpoint_auth_method: app.auth_method as ClientAuthMethod,
    id_token_signed_response_alg: 'RS256',
    gatehouse_scopes: scopes.join(' '),
  };
  // 0 (the admin console, which has no refresh tokens): its grants last as long as a session.
  if (app.refresh_token_ttl > 0) metadata.gatehouse_refresh_token_ttl = app.refresh_token_ttl;
  // Seconds within which the refresh token just rotated may be presented again (refresh-grace.ts).
  if (app.refresh_token === 1 && app.refresh_token_reuse_interval > 0) metadata.gatehouse_refresh_token_reuse_interval = app.refresh_token_reuse_interval;
  if (app.client_secret_hash && app.auth_method !== 'none') metadata.client_secret = app.client_secret_hash;
  return metadata;
}
