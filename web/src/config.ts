/** What the server tells the console (a meta tag in index.html, see src/http/routes/console.ts). */
export interface ConsoleConfig {
  issuer: string;
  clientId: string;
  basePath: string;
}

function readConfig(): ConsoleConfig {
  const content = document.querySelector('meta[name="gatehouse-console"]')?.getAttribute('content');
  // Without the tag (the Vite dev server), assume a Gatehouse at this origin.
  return content ? (JSON.parse(content) as ConsoleConfig) : { issuer: window.location.origin, clientId: 'gatehouse-admin-console', basePath: '/admin' };
}

export const config = readConfig();
export const discoveryUrl = `${config.issuer}/.well-known/openid-configuration`;
