import type { Kysely, Selectable } from 'kysely';
import { DomainError, conflict, invalid, notFound } from '../directory/errors.ts';
import type { GroupStore } from '../directory/groups.ts';
import { isObjectId, newObjectId, nowIso } from '../directory/ids.ts';
import { type UserStore, isUniqueViolation } from '../directory/users.ts';
import { type ReadFn, readThrough } from '../storage/read.ts';
import type { Database, RoutingPoliciesTable } from '../storage/schema.ts';
import type { IdentityProviderStore } from './providers.ts';
import type { IdentityProvider, RoutingPolicy, RoutingPolicyChanges, RoutingPolicyInput } from './types.ts';

type PolicyRow = Selectable<RoutingPoliciesTable>;

const CONTROL = /\p{Cc}/u;
export const MAX_ROUTING_PRIORITY = 1_000_000;

function checkName(value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (!name || name.length > 128 || CONTROL.test(name)) throw invalid('routing_policy.invalid_name', 'A name has 1-128 characters.', 'name');
  return name;
}

function checkPriority(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_ROUTING_PRIORITY) {
    throw invalid('routing_policy.invalid_priority', `The priority is a whole number from 0 to ${MAX_ROUTING_PRIORITY}; the lowest wins.`, 'priority');
  }
  return value;
}

// Where a person signs in, in one statement: the provider of the first enabled policy (priority, then
// name) of an enabled provider with a group the person is in (All Users has everyone without stored
// memberships). The person is chosen by id (routeFor) or by what they typed at sign-in, as users.get
// finds them: username or email, or id or username for an id (routeForName). No such person, no row.
const ROUTE_OF_PERSON = `
  select (
    select rp.identity_provider_id
    from routing_policies rp
    join identity_providers ip on ip.id = rp.identity_provider_id
    where ip.enabled = 1 and rp.enabled = 1 and exists (
      select 1 from routing_policy_groups rpg
      join user_groups ug on ug.id = rpg.group_id
      where rpg.policy_id = rp.id
        and (ug.builtin = 1 or exists (select 1 from group_members gm where gm.group_id = rpg.group_id and gm.user_id = u.id))
    )
    order by rp.priority, rp.name_key
    limit 1
  ) as provider_id
  from users u`;
const BY_ID = `${ROUTE_OF_PERSON} where u.id = ?`;
const BY_NAME = `${ROUTE_OF_PERSON} where u.username_key = ? or u.email_key = ?`;
const BY_ID_OR_USERNAME = `${ROUTE_OF_PERSON} where u.id = ? or u.username_key = ?`;

/**
 * Routing policies send the members of their groups to an identity provider to sign in. Refs are an
 * id or a name (any case). `read`: a faster path for routeForName, which every sign-in asks.
 */
export function createRoutingPolicyStore(db: Kysely<Database>, groups: GroupStore, providers: IdentityProviderStore, read: ReadFn = readThrough(db as Kysely<unknown>)) {
  /** The provider ROUTE_OF_PERSON picks for the person the statement selects; undefined for nobody, or no policy. */
  async function routeBy(statement: string, parameters: readonly unknown[]): Promise<IdentityProvider | undefined> {
    const [row] = await read<{ provider_id: string | null }>(statement, parameters);
    if (!row?.provider_id) return undefined;
    const provider = await providers.byId(row.provider_id);
    return provider?.enabled ? provider : undefined;
  }

  async function findRow(ref: string): Promise<PolicyRow | undefined> {
    if (typeof ref !== 'string' || ref.includes('\u0000')) return undefined;
    const key = ref.trim().toLowerCase();
    let query = db.selectFrom('routing_policies').selectAll();
    query = isObjectId(ref) ? query.where((eb) => eb.or([eb('id', '=', ref), eb('name_key', '=', key)])) : query.where('name_key', '=', key);
    return query.executeTakeFirst();
  }

  async function getRow(ref: string): Promise<PolicyRow> {
    const row = await findRow(ref);
    if (!row) throw notFound('routing_policy', ref);
    return row;
  }

  async function toPolicies(rows: readonly PolicyRow[]): Promise<RoutingPolicy[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [members, named] = await Promise.all([
      db
        .selectFrom('routing_policy_groups')
        .innerJoin('user_groups', 'user_groups.id', 'routing_policy_groups.group_id')
        .select(['routing_policy_groups.policy_id', 'user_groups.id', 'user_groups.name'])
        .where('routing_policy_groups.policy_id', 'in', ids)
        .orderBy('user_groups.name_key')
        .execute(),
      db
        .selectFrom('identity_providers')
        .select(['id', 'name'])
        .where('id', 'in', [...new Set(rows.map((r) => r.identity_provider_id))])
        .execute(),
    ]);
    const providerNames = new Map(named.map((p) => [p.id, p.name]));
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      enabled: row.enabled === 1,
      priority: row.priority,
      identity_provider: { id: row.identity_provider_id, name: providerNames.get(row.identity_provider_id) ?? '' },
      user_groups: members.filter((m) => m.policy_id === row.id).map((m) => ({ id: m.id, name: m.name })),
      created: row.created_at,
      updated: row.updated_at,
    }));
  }

  async function toPolicy(row: PolicyRow): Promise<RoutingPolicy> {
    return (await toPolicies([row]))[0] as RoutingPolicy;
  }

  async function resolveProvider(ref: unknown): Promise<IdentityProvider> {
    if (typeof ref !== 'string' || !ref.trim()) throw invalid('routing_policy.invalid_identity_provider', 'A routing policy needs an identity provider (id or name).', 'identity_provider');
    try {
      return await providers.get(ref.trim());
    } catch (error) {
      if (error instanceof DomainError && error.code === 'identity_provider.not_found') {
        throw invalid('routing_policy.invalid_identity_provider', `No identity provider matches "${ref}".`, 'identity_provider');
      }
      throw error;
    }
  }

  async function resolveGroups(refs: unknown): Promise<string[]> {
    if (!Array.isArray(refs) || refs.length === 0 || refs.length > 100 || refs.some((r) => typeof r !== 'string')) {
      throw invalid('routing_policy.invalid_user_groups', 'A routing policy needs one or more user groups (ids or names).', 'user_groups');
    }
    const ids: string[] = [];
    for (const ref of refs as string[]) {
      try {
        const group = await groups.get(ref.trim());
        if (!ids.includes(group.id)) ids.push(group.id);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'group.not_found') throw invalid('routing_policy.invalid_user_groups', `No group matches "${ref}".`, 'user_groups');
        throw error;
      }
    }
    return ids;
  }

  function nameTaken(name: string): DomainError {
    return conflict('routing_policy.name_taken', `A routing policy named "${name}" already exists.`);
  }

  async function setGroups(policyId: string, groupIds: readonly string[]): Promise<void> {
    await db.deleteFrom('routing_policy_groups').where('policy_id', '=', policyId).execute();
    await db
      .insertInto('routing_policy_groups')
      .values(groupIds.map((group_id) => ({ policy_id: policyId, group_id })))
      .execute();
  }

  return {
    /** By priority (lowest first), then name. */
    async list(): Promise<RoutingPolicy[]> {
      return toPolicies(await db.selectFrom('routing_policies').selectAll().orderBy('priority').orderBy('name_key').execute());
    },

    async get(ref: string): Promise<RoutingPolicy> {
      return toPolicy(await getRow(ref));
    },

    /** Without a priority, a new policy comes after every existing one. */
    async create(input: RoutingPolicyInput): Promise<RoutingPolicy> {
      const name = checkName(input.name);
      const provider = await resolveProvider(input.identity_provider);
      const groupIds = await resolveGroups(input.user_groups);
      const enabled = input.enabled === undefined ? true : input.enabled;
      if (typeof enabled !== 'boolean') throw invalid('routing_policy.invalid_enabled', 'enabled is true or false.', 'enabled');
      let priority: number;
      if (input.priority === undefined) {
        const last = await db.selectFrom('routing_policies').select((eb) => eb.fn.max<number | null>('priority').as('p')).executeTakeFirst();
        priority = Math.min(MAX_ROUTING_PRIORITY, last?.p == null ? 1 : Number(last.p) + 1);
      } else priority = checkPriority(input.priority);
      if (await findRow(name)) throw nameTaken(name);
      const now = nowIso();
      const row: PolicyRow = {
        id: newObjectId(),
        name,
        name_key: name.toLowerCase(),
        enabled: enabled ? 1 : 0,
        priority,
        identity_provider_id: provider.id,
        created_at: now,
        updated_at: now,
      };
      try {
        await db.insertInto('routing_policies').values(row).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(name);
        throw error;
      }
      await setGroups(row.id, groupIds);
      return toPolicy(row);
    },

    /** Only the fields given change; user_groups given replace the policy's groups. */
    async update(ref: string, changes: RoutingPolicyChanges): Promise<RoutingPolicy> {
      const current = await getRow(ref);
      const next: PolicyRow = { ...current, updated_at: nowIso() };
      if (changes.name !== undefined) {
        next.name = checkName(changes.name);
        next.name_key = next.name.toLowerCase();
        const clash = await findRow(next.name);
        if (clash && clash.id !== current.id) throw nameTaken(next.name);
      }
      if (changes.enabled !== undefined) {
        if (typeof changes.enabled !== 'boolean') throw invalid('routing_policy.invalid_enabled', 'enabled is true or false.', 'enabled');
        next.enabled = changes.enabled ? 1 : 0;
      }
      if (changes.priority !== undefined) next.priority = checkPriority(changes.priority);
      if (changes.identity_provider !== undefined) next.identity_provider_id = (await resolveProvider(changes.identity_provider)).id;
      const groupIds = changes.user_groups === undefined ? undefined : await resolveGroups(changes.user_groups);
      try {
        const { id: _id, created_at: _created, ...set } = next;
        await db.updateTable('routing_policies').set(set).where('id', '=', current.id).execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(next.name);
        throw error;
      }
      if (groupIds) await setGroups(current.id, groupIds);
      return toPolicy(next);
    },

    async remove(ref: string): Promise<RoutingPolicy> {
      const row = await getRow(ref);
      const policy = await toPolicy(row);
      await db.deleteFrom('routing_policy_groups').where('policy_id', '=', row.id).execute();
      await db.deleteFrom('routing_policies').where('id', '=', row.id).execute();
      return policy;
    },

    /**
     * Where this user signs in: the provider of the enabled policy with the lowest priority (then
     * name) among those with a group the user is in, if that provider is enabled. A disabled
     * provider does not pass the user on to a later policy: an administrator switching a provider
     * off should not send its people somewhere they were never meant to go.
     */
    async routeFor(userId: string): Promise<IdentityProvider | undefined> {
      return routeBy(BY_ID, [userId]);
    },

    /** routeFor the person a sign-in names (a username or an email, as users.get finds them); undefined for nobody. */
    async routeForName(typed: string): Promise<IdentityProvider | undefined> {
      // No stored name contains NUL, and PostgreSQL refuses to compare text with one.
      if (typed.includes('\u0000')) return undefined;
      const key = typed.toLowerCase();
      return routeBy(isObjectId(typed) ? BY_ID_OR_USERNAME : BY_NAME, [isObjectId(typed) ? typed : key, key]);
    },
  };
}

export type RoutingPolicyStore = ReturnType<typeof createRoutingPolicyStore>;

/**
 * A person routed to an identity provider has their password managed there: Gatehouse neither
 * checks nor sets one for them (409 user.password_externally_managed), so that an old or newly
 * set Gatehouse password can't become a way around the provider's own sign-in rules.
 */
export async function refuseExternallyManagedPassword(stores: { users: UserStore; routingPolicies: RoutingPolicyStore }, userRef: string): Promise<void> {
  const user = await stores.users.get(userRef);
  const provider = await stores.routingPolicies.routeFor(user.id);
  if (provider) {
    throw new DomainError(
      'user.password_externally_managed',
      409,
      `${user.username} signs in with "${provider.name}": their password is managed there, not in Gatehouse.`,
    );
  }
}
