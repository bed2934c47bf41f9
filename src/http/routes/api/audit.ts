import type { FastifyInstance } from 'fastify';
import type { AuditQuery } from '../../../directory/audit.ts';
import type { Directory } from '../../../directory/index.ts';
import type { ApiAuthenticator } from '../../plugins/api-auth.ts';
import { errorResponses, pageOf, pageQueryProperties, ref } from './schemas.ts';

const time = (description: string) => ({ type: 'string', minLength: 1, maxLength: 64, description }) as const;

export function registerAuditRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator): void {
  app.get<{ Querystring: AuditQuery & { limit: number; offset: number } }>(
    '/audit-events',
    {
      preValidation: auth.require('read'),
      schema: {
        tags: ['Audit log'],
        summary: 'List audit events',
        description:
          'Every change made through the API or the command line, and every refused attempt (`outcome: failure`), newest first. Filters combine; `total` counts every match.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQueryProperties,
            since: time('Events at or after this time (ISO 8601).'),
            until: time('Events before this time (ISO 8601).'),
            actor: { type: 'string', minLength: 1, maxLength: 300, description: 'Actor id or name (an API key’s name is owner/key name; the command line’s is the system user).' },
            action: {
              type: 'string',
              maxLength: 128,
              pattern: '^[a-z0-9_]+(\\.[a-z0-9_]+)*(\\.\\*)?$',
              description: 'An action, e.g. `user.create`, or every action under a prefix: `user.*`.',
            },
            target: { type: 'string', minLength: 1, maxLength: 300, description: 'Target id or name.' },
          },
        },
        response: { 200: pageOf(ref('AuditEvent')), ...errorResponses },
      },
    },
    async (request) => {
      const { limit, offset } = request.query;
      const { events, total } = await directory.audit.list(request.query);
      return { data: events, total, limit, offset };
    },
  );
}
