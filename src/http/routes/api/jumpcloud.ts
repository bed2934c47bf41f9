import type { FastifyInstance } from 'fastify';
import type { Directory } from '../../../directory/index.ts';
import type { ApiAuthenticator } from '../../plugins/api-auth.ts';
import { refuseNul } from './jumpcloud-common.ts';
import { registerUserGroupRoutes } from './jumpcloud-groups.ts';
import { registerSystemUserRoutes } from './jumpcloud-users.ts';

/**
 * JumpCloud-compatible endpoints (under /api, as JumpCloud's own), so that tools that sync a
 * JumpCloud directory — Defguard, netbird, scripts on jcapi — sync Gatehouse unchanged: v1
 * /systemusers and v2 /usergroups, their members and app associations, and /v2/users/{id}/memberof.
 * A thin translation onto the same directory code and audit trail as the native API.
 */
export function registerJumpCloudRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator): void {
  // A scope of their own, so that their request hook applies to them alone.
  app.register(async (scope) => {
    scope.addHook('preValidation', refuseNul);
    registerSystemUserRoutes(scope, directory, auth);
    registerUserGroupRoutes(scope, directory, auth);
  });
}
