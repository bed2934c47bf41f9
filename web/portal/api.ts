import { createApiClient, type paths, unwrap } from '../src/api.ts';
import { auth } from './auth.ts';

/** The typed API client (web/src/api.ts), with the portal's token and sign-in. */
export const client = createApiClient({ accessToken: auth.accessToken, forgetSession: auth.forgetSession, signIn: () => auth.signIn() });

/** A route's JSON answer, from the generated OpenAPI types. */
type Answer<P extends keyof paths, M extends 'get' | 'patch'> = paths[P][M] extends { responses: { 200: { content: { 'application/json': infer T } } } } ? T : never;

export type Profile = Answer<'/api/me/profile', 'get'>;
export type PortalApp = Answer<'/api/me/apps', 'get'>['data'][number];
export type PortalSession = Answer<'/api/me/sessions', 'get'>['data'][number];
export type AppGrant = Answer<'/api/me/app-grants', 'get'>['data'][number];

/** The self-service calls the portal makes; every one is the person's own, under /api/me. */
export const portalApi = {
  profile: () => unwrap(client.GET('/api/me/profile')),
  updateProfile: (displayname: string) => unwrap(client.PATCH('/api/me/profile', { body: { displayname } })),
  apps: () => unwrap(client.GET('/api/me/apps')),
  appIcon: (id: string) => unwrap(client.GET('/api/me/apps/{id}/icon', { params: { path: { id } }, parseAs: 'blob' })) as Promise<Blob>,
  changePassword: (currentPassword: string, newPassword: string) => unwrap(client.POST('/api/me/password', { body: { current_password: currentPassword, new_password: newPassword } })),
  sessions: () => unwrap(client.GET('/api/me/sessions')),
  endSession: (id: string) => unwrap(client.DELETE('/api/me/sessions/{id}', { params: { path: { id } } })),
  endAllSessions: () => unwrap(client.DELETE('/api/me/sessions')),
  appGrants: () => unwrap(client.GET('/api/me/app-grants')),
  revokeAppGrant: (appId: string) => unwrap(client.DELETE('/api/me/app-grants/{app_id}', { params: { path: { app_id: appId } } })),
};
