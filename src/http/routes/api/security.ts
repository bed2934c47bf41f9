import type { FastifyInstance } from 'fastify';
import type { ApiDependencies } from './index.ts';
import type { ApiAuthenticator } from '../../plugins/api-auth.ts';

export function registerSecurityRoutes(_app: FastifyInstance, _deps: ApiDependencies, _auth: ApiAuthenticator): void {}
