/**
 * What the server tells each web app (a meta tag in its index.html, see src/http/routes/web-apps.ts):
 * the issuer to sign in at, its own client_id and where it is served.
 */
export interface ClientConfig {
  issuer: string;
  clientId: string;
  basePath: string;
}

/** The two web apps Gatehouse serves, each a built-in OpenID Connect client of its own. */
export const WEB_APPS = {
  console: { meta: 'gatehouse-console', clientId: 'gatehouse-admin-console', basePath: '/admin' },
  portal: { meta: 'gatehouse-portal', clientId: 'gatehouse-user-portal', basePath: '' },
} as const;

export type WebApp = keyof typeof WEB_APPS;

export function readConfig(app: WebApp): ClientConfig {
  const { meta, clientId, basePath } = WEB_APPS[app];
  const content = document.querySelector(`meta[name="${meta}"]`)?.getAttribute('content');
  // Without the tag (the Vite dev server), assume a Gatehouse at this origin.
  return content ? (JSON.parse(content) as ClientConfig) : { issuer: window.location.origin, clientId, basePath };
}

/** The admin console's. */
export const config = readConfig('console');
export const discoveryUrl = `${config.issuer}/.well-known/openid-configuration`;
