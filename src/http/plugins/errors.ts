import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError } from '../../directory/errors.ts';

/** The one place errors become responses: `{code, message, details?}` with the right status, never a stack. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | DomainError, request, reply) => {
    if (error instanceof DomainError) {
      return reply.status(error.status).send({ code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) });
    }
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(500).send({ code: 'internal', message: 'Something went wrong on our side.' });
    }
    const code =
      error.validation ? 'request.invalid'
      : status === 413 ? 'request.too_large'
      : status === 415 ? 'request.unsupported_media_type'
      : status === 429 ? 'request.rate_limited'
      : 'request.bad';
    // Name the offending field: ajv puts an unknown or missing property's name in params, not the path.
    const details = error.validation?.map((v) => {
      const property = v.params?.additionalProperty ?? v.params?.missingProperty;
      // Paths name body fields as the domain's own errors do (`redirect_uris[0]`); other parts of
      // the request keep their prefix (`querystring.limit`).
      const segments = [...v.instancePath.split('/').filter(Boolean), ...(property === undefined ? [] : [String(property)])];
      const field = segments.reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment), '');
      const path = error.validationContext === 'body' || !error.validationContext ? field : [error.validationContext, field].filter(Boolean).join('.');
      const message = v.params?.additionalProperty ? `unknown field ${String(v.params.additionalProperty)}` : (v.message ?? 'invalid');
      return { path, message };
    });
    return reply.status(status).send({ code, message: error.message, ...(details ? { details } : {}) });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send({ code: 'route.not_found', message: `No route ${request.method} ${request.url.split('?')[0]}.` });
  });
}
