import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CONSOLE_CLIENT_ID, CONSOLE_PATH } from '../../directory/console-app.ts';
import { html, page, PAGE_CSP } from '../../oidc/views.ts';

/** Where `npm install` (web/build.ts) puts the built admin console. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

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

// The console's scripts and styles come from this origin only; Mantine sets style attributes, which
// need 'unsafe-inline' for styles (never for scripts). Icons are shown from blob: URLs.
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  body: Buffer;
  gzipped: Buffer | undefined;
  type: string;
  etag: string;
  immutable: boolean;
}

function asset(body: Buffer, type: string, immutable: boolean): Asset {
  const compressible = /^(text\/|application\/json|image\/svg)/.test(type) && body.length > 1024;
  return { body, gzipped: compressible ? gzipSync(body, { level: 9 }) : undefined, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`, immutable };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * The console is a handful of files: read, compress and hash them once at start, then every request
 * is a map look-up. Paths that are not files are the SPA's own routes and get index.html, which
 * carries the issuer and client_id the console signs in with (a meta tag, since scripts are 'self' only).
 */
export async function registerConsole(app: FastifyInstance, options: { issuer: string; dist?: string }): Promise<void> {
  const dist = options.dist ?? CONSOLE_DIST;
  const assets = new Map<string, Asset>();
  let index: Asset | undefined;
  if (existsSync(join(dist, 'index.html'))) {
    for (const file of filesUnder(dist)) {
      const path = relative(dist, file).split('\\').join('/');
      if (path === 'index.html' || path.startsWith('.')) continue;
      assets.set(path, asset(readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream', path.startsWith('assets/')));
    }
    const config = JSON.stringify({ issuer: options.issuer, clientId: CONSOLE_CLIENT_ID, basePath: CONSOLE_PATH });
    const indexHtml = readFileSync(join(dist, 'index.html'), 'utf8').replace('</head>', `<meta name="gatehouse-console" content="${html(config)}"></head>`);
    index = asset(Buffer.from(indexHtml), TYPES['.html']!, false);
  } else {
    app.log.warn(`the admin console is not built (no ${dist}index.html): run npm run build:web`);
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

  function sendIndex(request: FastifyRequest, reply: FastifyReply) {
    if (!index) {
      return reply
        .status(503)
        .header('Content-Security-Policy', PAGE_CSP)
        .type('text/html; charset=utf-8')
        .send(page('Admin console not built', '<h1>The admin console is not built</h1><p>Run <code>npm run build:web</code> (or <code>npm install</code>) and restart Gatehouse.</p>'));
    }
    // The sign-in callback URL carries the authorization code: never send it on as a referrer.
    reply.header('Content-Security-Policy', CONSOLE_CSP).header('X-Frame-Options', 'DENY').header('Referrer-Policy', 'no-referrer');
    return send(request, reply, index);
  }

  // Absolute, from the issuer, like every URL Gatehouse redirects to.
  const consoleUrl = `${new URL(options.issuer).origin}${CONSOLE_PATH}/`;
  app.get(CONSOLE_PATH, (_request, reply) => reply.redirect(consoleUrl));
  app.get<{ Params: { '*': string } }>(`${CONSOLE_PATH}/*`, (request, reply) => {
    const path = request.params['*'];
    const file = assets.get(path);
    if (file) return send(request, reply, file);
    // A missing script or image is a 404, not the SPA's page (which the browser would fail to run).
    if (path.startsWith('assets/') || extname(path)) return reply.status(404).send({ code: 'request.not_found', message: 'No such file.' });
    return sendIndex(request, reply);
  });
}
