/**
 * A second Gatehouse playing a generic OpenID provider upstream of the one under test (issue 10's
 * `oidc` identity provider type). Its people have verified email (Gatehouse sends
 * `email_verified: true`); one app, bound to one group, has the downstream's callback
 * `<downstream issuer>/oauth/callback` as its redirect URI. Only the upstream is set up through its
 * directory here: the Gatehouse under test is configured through its public API.
 */
import { FEDERATION_CALLBACK_PATH } from '../../src/federation/types.ts';
import type { DatabaseKind } from './databases.ts';
import { type TestGatehouse, startGatehouse } from './gatehouse.ts';

export interface UpstreamGatehouse {
  gatehouse: TestGatehouse;
  /** The upstream's issuer: what an administrator puts in the `oidc` provider's `issuer`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** A person who may sign in at the upstream into the app (a member of its group). */
  addPerson(person: { username: string; email: string; firstname?: string; lastname?: string; password: string }): Promise<void>;
  close(): Promise<void>;
}

export const UPSTREAM_GROUP = 'federated-to-downstream';

export async function startUpstreamGatehouse(kind: DatabaseKind, options: { downstreamIssuer: string; authMethod?: 'client_secret_basic' | 'client_secret_post' }): Promise<UpstreamGatehouse> {
  const gatehouse = await startGatehouse(kind);
  try {
    const { groups, apps, users } = gatehouse.directory;
    await groups.create(UPSTREAM_GROUP);
    const { app, clientSecret } = await apps.create({
      label: 'Downstream Gatehouse',
      redirect_uris: [`${options.downstreamIssuer}${FEDERATION_CALLBACK_PATH}`],
      auth_method: options.authMethod ?? 'client_secret_basic',
      scopes: ['email', 'profile'],
    });
    await apps.bind(app.id, UPSTREAM_GROUP);
    if (!clientSecret) throw new Error('the upstream app has no client secret');
    return {
      gatehouse,
      issuer: gatehouse.issuer,
      clientId: app.client_id,
      clientSecret,
      async addPerson(person) {
        await users.create({ username: person.username, email: person.email, firstname: person.firstname ?? 'Up', lastname: person.lastname ?? 'Stream', password: person.password });
        await groups.addMember(UPSTREAM_GROUP, person.username);
      },
      close: () => gatehouse.close(),
    };
  } catch (error) {
    await gatehouse.close();
    throw error;
  }
}
