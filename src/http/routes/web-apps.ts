import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONSOLE_CLIENT_ID, CONSOLE_PATH, PORTAL_CLIENT_ID } from '../../directory/console-app.ts';
import { html, page, PAGE_CSP } from '../../oidc/views.ts';

/** Where `npm install` (web/build.ts) puts the built web apps: the user portal and the admin console. */
export const WEB_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

// The web apps' scripts and styles come from this origin only; Mantine sets style attributes, which
// need 'unsafe-inline' for styles (never for scripts). Icons are shown from blob: URLs. Nothing else
// (frames, workers, media, other origins) is allowed at all.
export const WEB_APP_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; manifest-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * The user portal's own addresses at the issuer's root: its screens, and the redirect URIs its client
 * is registered with (directory/console-app.ts). Only these: every other root path (the API, the
 * protocol, the sign-in pages, an unknown address) keeps its own answer.
 */
export const PORTAL_PATHS = ['/', '/profile', '/security', '/sessions', '/callback', '/signed-out'] as const;

interface Asset {
  body: Buffer;
  gzipped: Buffer | undefined;
  type: string;
  etag: string;
  immutable: boolean;
}

function asset(body: Buffer, type: string, immutable: boolean): Asset {
  const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024;
  // Compressed when first asked for, not at every server start (level 9 over the build takes a while).
  let gzipped: Buffer | undefined;
  return {
    body,
    get gzipped() {
      if (compressible) gzipped ??= gzipSync(body, { level: 9 });
      return gzipped;
    },
    type,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    immutable,
  };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** One web app: its page in dist, the meta tag it reads its sign-in settings from, and those settings. */
interface WebApp {
  name: string;
  page: string;
  meta: string;
  config: { issuer: string; clientId: string; basePath: string };
}

/**
 * The two web apps are one Vite build (web/vite.config.ts): two pages sharing hashed assets under
 * /assets/. Read and hash every file once at start (compressed on first request), then every request is a map look-up.
 * A page's SPA routes get its index.html, which carries the issuer and client_id the app signs in
 * with (a meta tag, since scripts are 'self' only).
 */
export async function registerWebApps(app: FastifyInstance, options: { issuer: string; dist?: string }): Promise<void> {
  const dist = options.dist ?? WEB_DIST;
  const portal: WebApp = { name: 'user portal', page: 'index.html', meta: 'gatehouse-portal', config: { issuer: options.issuer, clientId: PORTAL_CLIENT_ID, basePath: '' } };
  const adminConsole: WebApp = { name: 'admin console', page: 'admin/index.html', meta: 'gatehouse-console', config: { issuer: options.issuer, clientId: CONSOLE_CLIENT_ID, basePath: CONSOLE_PATH } };
  const webApps = [portal, adminConsole];

  const assets = new Map<string, Asset>();
  const pages = new Map<WebApp, Asset>();
  if (existsSync(dist)) {
    for (const file of filesUnder(dist)) {
      const path = relative(dist, file).split('\\').join('/');
      if (path.endsWith('.html') || path.startsWith('.')) continue;
      assets.set(path, asset(readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream', path.startsWith('assets/')));
    }
  }
  for (const webApp of webApps) {
    const file = join(dist, webApp.page);
    if (!existsSync(file)) {
      app.log.warn(`the ${webApp.name} is not built (no ${file}): run npm run build:web`);
      continue;
    }
    const indexHtml = readFileSync(file, 'utf8').replace('</head>', `<meta name="${webApp.meta}" content="${html(JSON.stringify(webApp.config))}"></head>`);
    pages.set(webApp, asset(Buffer.from(indexHtml), TYPES['.html']!, false));
  }

  function send(request: FastifyRequest, reply: FastifyReply, item: Asset) {
    reply
      .type(item.type)
      .header('ETag', item.etag)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Cache-Control', item.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('Vary', 'Accept-Encoding');
    if (request.headers['if-none-match'] === item.etag) return reply.status(304).send();
    if (item.gzipped && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) return reply.header('Content-Encoding', 'gzip').send(item.gzipped);
    return reply.send(item.body);
  }

  function sendPage(webApp: WebApp, request: FastifyRequest, reply: FastifyReply) {
    const index = pages.get(webApp);
    if (!index) {
      const title = `The ${webApp.name} is not built`;
      return reply
        .status(503)
        .header('Content-Security-Policy', PAGE_CSP)
        .type('text/html; charset=utf-8')
        .send(page(title, `<h1>${html(title)}</h1><p>Run <code>npm run build:web</code> (or <code>npm install</code>) and restart Gatehouse.</p>`));
    }
    // The sign-in callback URL carries the authorization code: never send it on as a referrer.
    reply.header('Content-Security-Policy', WEB_APP_CSP).header('X-Frame-Options', 'DENY').header('Referrer-Policy', 'no-referrer');
    return send(request, reply, index);
  }

  const notFound = (reply: FastifyReply) => reply.status(404).send({ code: 'request.not_found', message: 'No such file.' });

  // The shared hashed assets, and the few files at the root (the favicon).
  app.get<{ Params: { '*': string } }>('/assets/*', (request, reply) => {
    const file = assets.get(`assets/${request.params['*']}`);
    return file ? send(request, reply, file) : notFound(reply);
  });
  for (const [path, file] of assets) {
    if (!path.includes('/')) app.get(`/${path}`, (request, reply) => send(request, reply, file));
  }

  // The portal: its screens and redirect URIs, nothing else at the root.
  for (const path of PORTAL_PATHS) app.get(path, (request, reply) => sendPage(portal, request, reply));

  // The console under /admin. Absolute, from the issuer, like every URL Gatehouse redirects to.
  const consoleUrl = `${new URL(options.issuer).origin}${CONSOLE_PATH}/`;
  app.get(CONSOLE_PATH, (_request, reply) => reply.redirect(consoleUrl));
  app.get<{ Params: { '*': string } }>(`${CONSOLE_PATH}/*`, (request, reply) => {
    const path = request.params['*'];
    // A missing script or image is a 404, not the SPA's page (which the browser would fail to run).
    if (path.startsWith('assets/') || extname(path)) return notFound(reply);
    return sendPage(adminConsole, request, reply);
  });
}
