import type { FastifyInstance } from 'fastify';
import type { Directory } from '../../../directory/index.ts';
import { type ApiAuthenticator, selfOf } from '../../plugins/api-auth.ts';
import { errorResponses, ref } from './schemas.ts';

/**
 * The self-service API behind the user portal: a person signed in to the portal (or the console)
 * reads and changes what is theirs. Never reachable with an API key (see requireSelf).
 */
export function registerSelfServiceRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator): void {
  const tags = ['Self-service'];

  app.get(
    '/me/profile',
    {
      preValidation: auth.requireSelf(),
      schema: {
        tags,
        summary: 'The signed-in person’s profile',
        description: 'Their directory fields and the groups they were added to (All Users left out). Needs a user portal sign-in.',
        security: [{ bearer: [] }],
        response: {
          200: {
            $id: 'SelfProfile',
            type: 'object',
            additionalProperties: false,
            required: ['user', 'groups'],
            properties: {
              user: ref('User'),
              groups: {
                type: 'array',
                items: { type: 'object', additionalProperties: false, required: ['id', 'name'], properties: { id: { type: 'string' }, name: { type: 'string' } } },
              },
            },
          },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { user } = selfOf(request);
      const groups = (await directory.groups.groupsOf(user.id)).filter((group) => !group.builtin).map((group) => ({ id: group.id, name: group.name }));
      return { user, groups };
    },
  );
}
