import type { FastifyInstance } from 'fastify';
import type { Directory } from '../../../directory/index.ts';
import type { ApiAuthenticator } from '../../plugins/api-auth.ts';

export function registerAuditRoutes(_app: FastifyInstance, _directory: Directory, _auth: ApiAuthenticator): void {}
