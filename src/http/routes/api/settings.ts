import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../../directory/errors.ts';
import type { Directory } from '../../../directory/index.ts';
import { roleAllows } from '../../../directory/roles.ts';
import { type Settings, settingsChanges } from '../../../directory/settings.ts';
import { type ApiAuthenticator, principalOf } from '../../plugins/api-auth.ts';
import { errorResponses, ref, settingsProperties } from './schemas.ts';

const tags = ['Settings'];

/** Reading settings needs the role that manages them, but not a read_write key. */
async function requireSettingsRole(request: FastifyRequest): Promise<void> {
  const { role } = principalOf(request);
  if (!roleAllows(role, 'settings')) throw new DomainError('auth.forbidden', 403, `The role ${role} does not allow this.`);
}

export function registerSettingsRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator): void {
  app.get(
    '/settings',
    {
      preValidation: [auth.require('read'), requireSettingsRole],
      schema: { tags, summary: 'Get the organisation settings', description: 'Only for administrators with billing.', response: { 200: ref('Settings'), ...errorResponses } },
    },
    async () => directory.settings.get(),
  );

  app.patch<{ Body: Partial<Settings> }>(
    '/settings',
    {
      preValidation: auth.require('settings'),
      schema: {
        tags,
        summary: 'Change organisation settings',
        description:
          'Only the fields sent change. Token and session lifetimes apply to tokens and sessions issued afterwards (every server within seconds); the password rules to passwords set afterwards; the lockout rules to the next sign-in.',
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: settingsProperties },
        response: { 200: ref('Settings'), ...errorResponses },
      },
    },
    async (request) =>
      directory.change(
        principalOf(request).actor,
        'settings.update',
        async (d) => {
          const before = await d.settings.get();
          const after = await d.settings.update(request.body);
          return { after, changes: settingsChanges(before, after) };
        },
        ({ changes }) => ({ target: { type: 'settings', name: 'organisation' }, details: { fields: Object.keys(changes), changes } }),
        { type: 'settings', name: 'organisation' },
      ).then(({ after }) => after),
  );
}
