import type { Kysely, Selectable } from 'kysely';
import { conflict, invalid, notFound } from '../directory/errors.ts';
import { newObjectId, nowIso } from '../directory/ids.ts';
import { type UserStore, isUniqueViolation } from '../directory/users.ts';
import type { Database, IdentityLinksTable } from '../storage/schema.ts';
import type { IdentityLink } from './types.ts';

type LinkRow = Selectable<IdentityLinksTable> & { provider_name: string };

const toLink = (row: LinkRow): IdentityLink => ({
  id: row.id,
  user_id: row.user_id,
  identity_provider: { id: row.identity_provider_id, name: row.provider_name },
  issuer: row.issuer,
  subject: row.subject,
  email: row.email,
  created: row.created_at,
  last_used: row.last_used_at,
});

export interface IdentityLinkInput {
  user_id: string;
  identity_provider_id: string;
  /** entra: the tid; oidc: the iss. */
  issuer: string;
  /** entra: the oid; oidc: the sub. */
  subject: string;
  email?: string | null | undefined;
}

/**
 * Links between upstream identities and users: after the first federated sign-in, the only thing a
 * later sign-in matches on (never the upstream's email, which can change or be chosen by its user).
 */
export function createIdentityLinkStore(db: Kysely<Database>, users: UserStore) {
  const selectLinks = () =>
    db
      .selectFrom('identity_links')
      .innerJoin('identity_providers', 'identity_providers.id', 'identity_links.identity_provider_id')
      .selectAll('identity_links')
      .select('identity_providers.name as provider_name');

  return {
    async find(providerId: string, issuer: string, subject: string): Promise<IdentityLink | undefined> {
      const row = await selectLinks()
        .where('identity_links.identity_provider_id', '=', providerId)
        .where('identity_links.issuer', '=', issuer)
        .where('identity_links.subject', '=', subject)
        .executeTakeFirst();
      return row && toLink(row);
    },

    /** 409 identity_link.exists when that upstream identity is already linked (to anyone). */
    async create(input: IdentityLinkInput): Promise<IdentityLink> {
      for (const field of ['user_id', 'identity_provider_id', 'issuer', 'subject'] as const) {
        const value = input[field];
        if (typeof value !== 'string' || !value || value.length > 1024 || value.includes('\u0000')) {
          throw invalid('identity_link.invalid', `An identity link needs a ${field}.`, field);
        }
      }
      const row: Selectable<IdentityLinksTable> = {
        id: newObjectId(),
        user_id: input.user_id,
        identity_provider_id: input.identity_provider_id,
        issuer: input.issuer,
        subject: input.subject,
        email: input.email ? input.email.slice(0, 320) : null,
        created_at: nowIso(),
        last_used_at: null,
      };
      try {
        await db.insertInto('identity_links').values(row).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict('identity_link.exists', 'That upstream identity is already linked to a user.');
        throw error;
      }
      const created = await selectLinks().where('identity_links.id', '=', row.id).executeTakeFirstOrThrow();
      return toLink(created);
    },

    /** The user's links (user by id, username or email), oldest first. */
    async listForUser(userRef: string): Promise<IdentityLink[]> {
      const user = await users.get(userRef);
      const rows = await selectLinks().where('identity_links.user_id', '=', user.id).orderBy('identity_links.created_at').orderBy('identity_links.id').execute();
      return rows.map(toLink);
    },

    /** Removes one of the user's links: the next sign-in from that identity is a first one again. */
    async remove(userRef: string, linkId: string): Promise<IdentityLink> {
      const user = await users.get(userRef);
      const row = typeof linkId === 'string' && !linkId.includes('\u0000')
        ? await selectLinks().where('identity_links.id', '=', linkId).where('identity_links.user_id', '=', user.id).executeTakeFirst()
        : undefined;
      if (!row) throw notFound('identity_link', linkId);
      await db.deleteFrom('identity_links').where('id', '=', row.id).execute();
      return toLink(row);
    },

    /** Records a sign-in through the link. */
    async touch(linkId: string): Promise<void> {
      await db.updateTable('identity_links').set({ last_used_at: nowIso() }).where('id', '=', linkId).execute();
    },
  };
}

export type IdentityLinkStore = ReturnType<typeof createIdentityLinkStore>;
