import type { FastifyReply } from 'fastify';
import { PAGE_CSP } from '../../oidc/views.ts';

/**
 * A server-rendered page (sign-in, federation callback): never cached, never framed, no referrer.
 * `csp` replaces PAGE_CSP for the sign-in pages that load the passkey scripts (views.passkeyPageCsp).
 */
export function sendPage(reply: FastifyReply, status: number, body: string, csp: string = PAGE_CSP) {
  return reply
    .status(status)
    .header('Content-Security-Policy', csp)
    .header('Cache-Control', 'no-store')
    .header('X-Frame-Options', 'DENY')
    .header('Referrer-Policy', 'no-referrer')
    .type('text/html; charset=utf-8')
    .send(body);
}
