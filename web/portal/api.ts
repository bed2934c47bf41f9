import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON, AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/browser';
import { createApiClient, type paths, type Schemas, unwrap } from '../src/api.ts';
import { auth } from './auth.ts';

/** The typed API client (web/src/api.ts), with the portal's token and sign-in. */
export const client = createApiClient({ accessToken: auth.accessToken, forgetSession: auth.forgetSession, signIn: () => auth.signIn() });

/** A route's JSON answer, from the generated OpenAPI types. */
type Answer<P extends keyof paths, M extends 'get' | 'patch'> = paths[P][M] extends { responses: { 200: { content: { 'application/json': infer T } } } } ? T : never;

export type Profile = Answer<'/api/me/profile', 'get'>;
export type PortalApp = Answer<'/api/me/apps', 'get'>['data'][number];
export type PortalSession = Answer<'/api/me/sessions', 'get'>['data'][number];
export type AppGrant = Answer<'/api/me/app-grants', 'get'>['data'][number];
export type Factors = Schemas['Factors'];
export type Passkey = Schemas['Passkey'];
/** Proof of a factor, which taking a factor away needs: a code (app or recovery) or a key's assertion. */
export type FactorProof = { code: string } | { response: AuthenticationResponseJSON };

/** The self-service calls the portal makes; every one is the person's own, under /api/me. */
export const portalApi = {
  profile: () => unwrap(client.GET('/api/me/profile')),
  updateProfile: (displayname: string) => unwrap(client.PATCH('/api/me/profile', { body: { displayname } })),
  apps: () => unwrap(client.GET('/api/me/apps')),
  appIcon: (id: string) => unwrap(client.GET('/api/me/apps/{id}/icon', { params: { path: { id } }, parseAs: 'blob' })) as Promise<Blob>,
  changePassword: (currentPassword: string, newPassword: string, signOutOtherSessions: boolean) =>
    unwrap(client.POST('/api/me/password', { body: { current_password: currentPassword, new_password: newPassword, sign_out_other_sessions: signOutOtherSessions } })),
  factors: () => unwrap(client.GET('/api/me/factors')),
  beginTotp: () => unwrap(client.POST('/api/me/factors/totp')),
  confirmTotp: (code: string) => unwrap(client.POST('/api/me/factors/totp/confirm', { body: { code } })),
  removeTotp: (code: string) => unwrap(client.DELETE('/api/me/factors/totp', { body: { code } })),
  regenerateRecoveryCodes: () => unwrap(client.POST('/api/me/recovery-codes')),
  passkeyOptions: () => unwrap(client.POST('/api/me/passkeys/options')) as Promise<unknown> as Promise<PublicKeyCredentialCreationOptionsJSON>,
  addPasskey: (name: string, response: RegistrationResponseJSON) => unwrap(client.POST('/api/me/passkeys', { body: { name, response: response as unknown as Record<string, unknown> } })),
  renamePasskey: (id: string, name: string) => unwrap(client.PATCH('/api/me/passkeys/{id}', { params: { path: { id } }, body: { name } })),
  passkeyProofOptions: () => unwrap(client.POST('/api/me/passkeys/verification-options')) as Promise<unknown> as Promise<PublicKeyCredentialRequestOptionsJSON>,
  removePasskey: (id: string, proof: FactorProof) =>
    unwrap(client.DELETE('/api/me/passkeys/{id}', { params: { path: { id } }, body: 'code' in proof ? { code: proof.code } : { response: proof.response as unknown as Record<string, unknown> } })),
  sessions: () => unwrap(client.GET('/api/me/sessions')),
  endSession: (id: string) => unwrap(client.DELETE('/api/me/sessions/{id}', { params: { path: { id } } })),
  endAllSessions: () => unwrap(client.DELETE('/api/me/sessions')),
  appGrants: () => unwrap(client.GET('/api/me/app-grants')),
  revokeAppGrant: (appId: string) => unwrap(client.DELETE('/api/me/app-grants/{app_id}', { params: { path: { app_id: appId } } })),
};
