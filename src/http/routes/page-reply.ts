import type { FastifyReply } from 'fastify';
import { PAGE_CSP } from '../../oidc/views.ts';

/** A server-rendered page (sign-in, federation callback): never cached, never framed, no referrer. */
export function sendPage(reply: FastifyReply, status: number, body: string) {
  return reply
    .status(status)
    .header('Content-Security-Policy', PAGE_CSP)
    .header('Cache-Control', 'no-store')
    .header('X-Frame-Options', 'DENY')
    .header('Referrer-Policy', 'no-referrer')
    .type('text/html; charset=utf-8')
    .send(body);
}
