import ipaddr from 'ipaddr.js';
import { type Kysely, type Selectable, sql } from 'kysely';
import type { AppStore } from '../directory/apps.ts';
import { DomainError, conflict, invalid, notFound } from '../directory/errors.ts';
import type { GroupStore } from '../directory/groups.ts';
import { isObjectId, newObjectId } from '../directory/ids.ts';
import { isUniqueViolation } from '../directory/users.ts';
import { type ReadFn, readThrough } from '../storage/read.ts';
import type { AccessPoliciesTable, Database } from '../storage/schema.ts';
import type { Clock } from './factors.ts';

/**
 * Access policies (issue 12 §3): an ordered list, then a default. The first enabled policy whose
 * resource, people and conditions all match decides what happens to a sign-in or a single sign-on
 * into an app; when none matches, the default policy (allow) does.
 */
export const POLICY_ACTIONS = ['allow', 'require_mfa', 'deny'] as const;
export type PolicyAction = (typeof POLICY_ACTIONS)[number];
export const POLICY_RESOURCES = ['portal', 'all_apps', 'apps'] as const;
export type PolicyResource = (typeof POLICY_RESOURCES)[number];
export const SIGN_IN_CONDITIONS = ['any', 'federated', 'not_federated'] as const;
export type SignInCondition = (typeof SIGN_IN_CONDITIONS)[number];

export const DEFAULT_GRACE_DAYS = 7;
export const MAX_GRACE_DAYS = 365;
const MAX_CIDRS = 100;
const MAX_REFS = 100;
const DAY_MS = 86_400_000;

export interface AccessPolicy {
  id: string;
  name: string;
  enabled: boolean;
  /** 1 for the first policy evaluated. */
  position: number;
  /** The user portal, every app (the admin console included), or the apps listed. */
  resource: PolicyResource;
  apps: { id: string; label: string }[];
  /** Everyone, or the members of the groups listed. */
  users: 'all' | 'groups';
  user_groups: { id: string; name: string }[];
  /** The client address is in one of these blocks (none listed: any address). */
  addresses_in: string[];
  /** The client address is in none of these blocks. */
  addresses_not_in: string[];
  /** Signed in through an upstream identity provider, or not, or either. */
  sign_in: SignInCondition;
  action: PolicyAction;
  /** For require_mfa: days a person without a factor may postpone enrolling, from when it first applied to them. */
  grace_days: number;
  created: string;
  updated: string;
}

export interface AccessPolicyInput {
  name?: unknown;
  enabled?: unknown;
  resource?: unknown;
  /** App ids, client ids or labels, with resource `apps`. */
  apps?: unknown;
  users?: unknown;
  /** Group ids or names (any case), with users `groups`. */
  user_groups?: unknown;
  addresses_in?: unknown;
  addresses_not_in?: unknown;
  sign_in?: unknown;
  action?: unknown;
  grace_days?: unknown;
  /** Where to insert (1 = first); at the end when absent. */
  position?: unknown;
}

/** The default policy, after every listed one: everyone is allowed (access to apps is still by group binding). */
export const DEFAULT_POLICY = { name: 'Default policy', action: 'allow' as PolicyAction };

/** What a sign-in or single sign-on is, as the policies see it. */
export interface AccessContext {
  /** The user portal, or an app by its id (the admin console's is `admin-console`). */
  resource: { kind: 'portal' } | { kind: 'app'; appId: string };
  /** The person's groups, the built-in All Users included. */
  groupIds: ReadonlySet<string>;
  /** The client address as Gatehouse believes it (after trusted proxies). */
  address: string;
  /** Whether the session was started through an upstream identity provider. */
  federated: boolean;
}

export interface PolicyDecision {
  action: PolicyAction;
  /** The policy that decided; undefined for the default policy. */
  policy: { id: string; name: string; grace_days: number } | undefined;
}

type Block = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are the IPv4 address they carry. */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  try {
    return ipaddr.process(address);
  } catch {
    return undefined;
  }
}

function parseBlock(cidr: string): Block | undefined {
  try {
    const text = cidr.includes('/') ? cidr : `${cidr}/${ipaddr.parse(cidr).kind() === 'ipv4' ? 32 : 128}`;
    const [address, bits] = ipaddr.parseCIDR(text);
    // ::ffff:10.0.0.0/104 is 10.0.0.0/8: compare like with like.
    if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) return [(address as ipaddr.IPv6).toIPv4Address(), bits - 96];
    return [address, bits];
  } catch {
    return undefined;
  }
}

function inAnyBlock(address: ipaddr.IPv4 | ipaddr.IPv6 | undefined, blocks: readonly Block[]): boolean {
  if (!address) return false;
  return blocks.some(([base, bits]) => base.kind() === address.kind() && address.match(base as never, bits));
}

/** A policy ready to match: its blocks parsed once. */
export interface CompiledPolicy extends AccessPolicy {
  blocksIn: Block[];
  blocksNotIn: Block[];
}

export function compilePolicy(policy: AccessPolicy): CompiledPolicy {
  const parse = (list: string[]) => list.map(parseBlock).filter((block): block is Block => block !== undefined);
  return { ...policy, blocksIn: parse(policy.addresses_in), blocksNotIn: parse(policy.addresses_not_in) };
}

export function policyMatches(policy: CompiledPolicy, context: AccessContext): boolean {
  if (!policy.enabled) return false;
  if (policy.resource === 'portal' && context.resource.kind !== 'portal') return false;
  if (policy.resource === 'all_apps' && context.resource.kind !== 'app') return false;
  if (policy.resource === 'apps') {
    const { resource } = context;
    if (resource.kind !== 'app' || !policy.apps.some((app) => app.id === resource.appId)) return false;
  }
  if (policy.users === 'groups' && !policy.user_groups.some((group) => context.groupIds.has(group.id))) return false;
  const address = parseAddress(context.address);
  if (policy.blocksIn.length > 0 && !inAnyBlock(address, policy.blocksIn)) return false;
  // An address that can't be read is in no block, so "not in" holds for it: deny-lists fail closed.
  if (policy.blocksNotIn.length > 0 && inAnyBlock(address, policy.blocksNotIn)) return false;
  if (policy.sign_in === 'federated' && !context.federated) return false;
  if (policy.sign_in === 'not_federated' && context.federated) return false;
  return true;
}

/** The first enabled matching policy's action, else the default's. No storage, no HTTP. */
export function evaluatePolicies(policies: readonly CompiledPolicy[], context: AccessContext): PolicyDecision {
  const ordered = [...policies].sort((a, b) => a.position - b.position);
  for (const policy of ordered) {
    if (policyMatches(policy, context)) return { action: policy.action, policy: { id: policy.id, name: policy.name, grace_days: policy.grace_days } };
  }
  return { action: DEFAULT_POLICY.action, policy: undefined };
}

/** When a person without a factor must have enrolled: `graceDays` after the requirement first applied to them. */
export function enrolmentDeadline(firstRequiredAt: string, graceDays: number): Date {
  return new Date(Date.parse(firstRequiredAt) + graceDays * DAY_MS);
}

// --- validation -------------------------------------------------------------------------------

const CONTROL = /\p{Cc}/u;

function checkName(value: unknown): string {
  const name = typeof value === 'string' ? value.trim() : '';
  if (!name || name.length > 128 || CONTROL.test(name)) throw invalid('access_policy.invalid_name', 'A name has 1-128 characters.', 'name');
  return name;
}

function checkEnum<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(`access_policy.invalid_${field}`, `${field} is one of: ${allowed.join(', ')}.`, field);
  }
  return value as T;
}

function checkBoolean(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw invalid(`access_policy.invalid_${field}`, `${field} is true or false.`, field);
  return value;
}

function checkGraceDays(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_GRACE_DAYS) {
    throw invalid('access_policy.invalid_grace_days', `The enrolment grace period is a whole number of days from 0 to ${MAX_GRACE_DAYS}.`, 'grace_days');
  }
  return value;
}

/** CIDR blocks (IPv4 or IPv6; a bare address is a block of one), normalised to their network address. */
export function checkCidrs(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_CIDRS || value.some((entry) => typeof entry !== 'string')) {
    throw invalid(`access_policy.invalid_${field}`, `${field} is a list of up to ${MAX_CIDRS} CIDR blocks, such as 203.0.113.0/24 or 2001:db8::/32.`, field);
  }
  const out: string[] = [];
  for (const entry of value as string[]) {
    const block = parseBlock(entry.trim());
    if (!block) throw invalid(`access_policy.invalid_${field}`, `"${entry.slice(0, 64)}" is not a CIDR block (such as 203.0.113.0/24 or 2001:db8::/32).`, field);
    const [address, bits] = block;
    const network = address.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${address}/${bits}`) : ipaddr.IPv6.networkAddressFromCIDR(`${address}/${bits}`);
    const text = `${network.toString()}/${bits}`;
    if (!out.includes(text)) out.push(text);
  }
  return out;
}

function checkPosition(value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw invalid('access_policy.invalid_position', `The position is a whole number from 1 to ${max}.`, 'position');
  }
  return value;
}

function checkRefs(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_REFS || value.some((ref) => typeof ref !== 'string' || !ref.trim())) {
    throw invalid(`access_policy.invalid_${field}`, `${field} is a list of up to ${MAX_REFS} ids or names.`, field);
  }
  return (value as string[]).map((ref) => ref.trim());
}

// --- storage ----------------------------------------------------------------------------------

type PolicyRow = Selectable<AccessPoliciesTable>;

const parseList = (text: string): string[] => {
  try {
    const value = JSON.parse(text) as unknown;
    return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
  } catch {
    return [];
  }
};

/**
 * The policies at rest. Refs are an id or a name (any case). `clock` dates the start of people's
 * enrolment grace periods (injectable, so tests move time instead of waiting). `read`: a faster path
 * for the list every sign-in and single sign-on evaluates (default: through `db`).
 */
export function createAccessPolicyStore(db: Kysely<Database>, groups: GroupStore, apps: AppStore, clock: Clock = Date.now, read: ReadFn = readThrough(db as Kysely<unknown>)) {
  const now = () => new Date(clock()).toISOString();

  async function findRow(ref: string): Promise<PolicyRow | undefined> {
    if (typeof ref !== 'string' || ref.includes('\u0000')) return undefined;
    const key = ref.trim().toLowerCase();
    let query = db.selectFrom('access_policies').selectAll();
    query = isObjectId(ref) ? query.where((eb) => eb.or([eb('id', '=', ref), eb('name_key', '=', key)])) : query.where('name_key', '=', key);
    return query.executeTakeFirst();
  }

  async function getRow(ref: string): Promise<PolicyRow> {
    const row = await findRow(ref);
    if (!row) throw notFound('access_policy', ref);
    return row;
  }

  async function toPolicies(rows: readonly PolicyRow[]): Promise<AccessPolicy[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.id);
    const [groupRows, appRows] = await Promise.all([
      db
        .selectFrom('access_policy_groups')
        .innerJoin('user_groups', 'user_groups.id', 'access_policy_groups.group_id')
        .select(['access_policy_groups.policy_id', 'user_groups.id', 'user_groups.name'])
        .where('access_policy_groups.policy_id', 'in', ids)
        .orderBy('user_groups.name_key')
        .execute(),
      db
        .selectFrom('access_policy_apps')
        .innerJoin('apps', 'apps.id', 'access_policy_apps.app_id')
        .select(['access_policy_apps.policy_id', 'apps.id', 'apps.label'])
        .where('access_policy_apps.policy_id', 'in', ids)
        .orderBy('apps.label')
        .execute(),
    ]);
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      enabled: row.enabled === 1,
      position: row.position,
      resource: row.resource as PolicyResource,
      apps: appRows.filter((app) => app.policy_id === row.id).map((app) => ({ id: app.id, label: app.label })),
      users: row.all_users === 1 ? 'all' : 'groups',
      user_groups: groupRows.filter((group) => group.policy_id === row.id).map((group) => ({ id: group.id, name: group.name })),
      addresses_in: parseList(row.addresses_in),
      addresses_not_in: parseList(row.addresses_not_in),
      sign_in: (row.sign_in ?? 'any') as SignInCondition,
      action: row.action as PolicyAction,
      grace_days: row.grace_days,
      created: row.created_at,
      updated: row.updated_at,
    }));
  }

  async function toPolicy(row: PolicyRow): Promise<AccessPolicy> {
    return (await toPolicies([row]))[0] as AccessPolicy;
  }

  async function resolveGroups(refs: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const ref of refs) {
      try {
        const group = await groups.get(ref);
        if (!ids.includes(group.id)) ids.push(group.id);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'group.not_found') throw invalid('access_policy.invalid_user_groups', `No group matches "${ref.slice(0, 64)}".`, 'user_groups');
        throw error;
      }
    }
    return ids;
  }

  async function resolveApps(refs: string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const ref of refs) {
      try {
        const app = await apps.get(ref);
        if (!ids.includes(app.id)) ids.push(app.id);
      } catch (error) {
        if (error instanceof DomainError && error.code === 'app.not_found') throw invalid('access_policy.invalid_apps', `No app matches "${ref.slice(0, 64)}".`, 'apps');
        throw error;
      }
    }
    return ids;
  }

  const nameTaken = (name: string) => conflict('access_policy.name_taken', `An access policy named "${name}" already exists.`);

  /** The whole policy checked as it will be stored: every field, and the lists its resource and people need. */
  async function validated(input: AccessPolicyInput, base: AccessPolicy | undefined) {
    const name = checkName(input.name ?? base?.name);
    const enabled = input.enabled === undefined ? (base?.enabled ?? true) : checkBoolean(input.enabled, 'enabled');
    const resource = input.resource === undefined && base ? base.resource : checkEnum(input.resource, POLICY_RESOURCES, 'resource');
    const users = input.users === undefined ? (base?.users ?? 'all') : checkEnum(input.users, ['all', 'groups'] as const, 'users');
    const action = input.action === undefined && base ? base.action : checkEnum(input.action, POLICY_ACTIONS, 'action');
    const signIn = input.sign_in === undefined ? (base?.sign_in ?? 'any') : checkEnum(input.sign_in, SIGN_IN_CONDITIONS, 'sign_in');
    const graceDays = input.grace_days === undefined ? (base?.grace_days ?? DEFAULT_GRACE_DAYS) : checkGraceDays(input.grace_days);
    const addressesIn = input.addresses_in === undefined ? (base?.addresses_in ?? []) : checkCidrs(input.addresses_in, 'addresses_in');
    const addressesNotIn = input.addresses_not_in === undefined ? (base?.addresses_not_in ?? []) : checkCidrs(input.addresses_not_in, 'addresses_not_in');
    let appIds = input.apps === undefined ? (base?.apps.map((app) => app.id) ?? []) : await resolveApps(checkRefs(input.apps, 'apps'));
    let groupIds = input.user_groups === undefined ? (base?.user_groups.map((group) => group.id) ?? []) : await resolveGroups(checkRefs(input.user_groups, 'user_groups'));
    if (resource === 'apps' && appIds.length === 0) throw invalid('access_policy.invalid_apps', 'A policy for chosen apps lists one or more apps.', 'apps');
    if (resource !== 'apps') {
      if (input.apps !== undefined && appIds.length > 0) throw invalid('access_policy.invalid_apps', 'Apps are listed only with the resource "apps".', 'apps');
      appIds = [];
    }
    if (users === 'groups' && groupIds.length === 0) throw invalid('access_policy.invalid_user_groups', 'A policy for chosen groups lists one or more groups.', 'user_groups');
    if (users === 'all') {
      if (input.user_groups !== undefined && groupIds.length > 0) throw invalid('access_policy.invalid_user_groups', 'Groups are listed only with users "groups".', 'user_groups');
      groupIds = [];
    }
    return { name, enabled, resource, users, action, signIn, graceDays, addressesIn, addressesNotIn, appIds, groupIds };
  }

  type Fields = Awaited<ReturnType<typeof validated>>;

  async function setLinks(policyId: string, fields: Fields): Promise<void> {
    await db.deleteFrom('access_policy_apps').where('policy_id', '=', policyId).execute();
    await db.deleteFrom('access_policy_groups').where('policy_id', '=', policyId).execute();
    if (fields.appIds.length) await db.insertInto('access_policy_apps').values(fields.appIds.map((app_id) => ({ policy_id: policyId, app_id }))).execute();
    if (fields.groupIds.length) await db.insertInto('access_policy_groups').values(fields.groupIds.map((group_id) => ({ policy_id: policyId, group_id }))).execute();
  }

  const columns = (fields: Fields) => ({
    name: fields.name,
    name_key: fields.name.toLowerCase(),
    enabled: fields.enabled ? 1 : 0,
    resource: fields.resource,
    all_users: fields.users === 'all' ? 1 : 0,
    addresses_in: JSON.stringify(fields.addressesIn),
    addresses_not_in: JSON.stringify(fields.addressesNotIn),
    sign_in: fields.signIn === 'any' ? null : fields.signIn,
    action: fields.action,
    grace_days: fields.graceDays,
  });

  async function orderedIds(): Promise<string[]> {
    return (await db.selectFrom('access_policies').select('id').orderBy('position').orderBy('name_key').execute()).map((row) => row.id);
  }

  /** Positions 1..n in the given order. Callers run inside a transaction (directory.change), so a reorder is all or nothing. */
  async function renumber(ids: readonly string[]): Promise<void> {
    // Two passes would be needed with a unique position; positions are not unique, so one pass is enough.
    for (const [index, id] of ids.entries()) await db.updateTable('access_policies').set({ position: index + 1 }).where('id', '=', id).execute();
  }

  return {
    /** In evaluation order. */
    async list(): Promise<AccessPolicy[]> {
      return toPolicies(await read<PolicyRow>('select * from access_policies order by position, name_key', []));
    },

    async get(ref: string): Promise<AccessPolicy> {
      return toPolicy(await getRow(ref));
    },

    async create(input: AccessPolicyInput): Promise<AccessPolicy> {
      const fields = await validated(input, undefined);
      if (await findRow(fields.name)) throw nameTaken(fields.name);
      const ids = await orderedIds();
      const position = input.position === undefined ? ids.length + 1 : checkPosition(input.position, ids.length + 1);
      const at = now();
      const id = newObjectId();
      try {
        await db
          .insertInto('access_policies')
          .values({ id, ...columns(fields), position, created_at: at, updated_at: at })
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(fields.name);
        throw error;
      }
      await setLinks(id, fields);
      ids.splice(position - 1, 0, id);
      await renumber(ids);
      return toPolicy(await getRow(id));
    },

    /** Only the fields given change; lists given replace the policy's lists. */
    async update(ref: string, changes: AccessPolicyInput): Promise<AccessPolicy> {
      const row = await getRow(ref);
      const current = await toPolicy(row);
      const fields = await validated(changes, current);
      const clash = await findRow(fields.name);
      if (clash && clash.id !== row.id) throw nameTaken(fields.name);
      try {
        await db
          .updateTable('access_policies')
          .set({ ...columns(fields), updated_at: now() })
          .where('id', '=', row.id)
          .execute();
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(fields.name);
        throw error;
      }
      await setLinks(row.id, fields);
      if (changes.position !== undefined) {
        const ids = (await orderedIds()).filter((id) => id !== row.id);
        ids.splice(checkPosition(changes.position, ids.length + 1) - 1, 0, row.id);
        await renumber(ids);
      }
      return toPolicy(await getRow(row.id));
    },

    async remove(ref: string): Promise<AccessPolicy> {
      const row = await getRow(ref);
      const policy = await toPolicy(row);
      await db.deleteFrom('mfa_requirements').where('policy_id', '=', row.id).execute();
      await db.deleteFrom('access_policy_apps').where('policy_id', '=', row.id).execute();
      await db.deleteFrom('access_policy_groups').where('policy_id', '=', row.id).execute();
      await db.deleteFrom('access_policies').where('id', '=', row.id).execute();
      await renumber((await orderedIds()).filter((id) => id !== row.id));
      return policy;
    },

    /** Moves one policy to a position (1 = evaluated first). */
    async move(ref: string, position: unknown): Promise<AccessPolicy[]> {
      const row = await getRow(ref);
      const ids = (await orderedIds()).filter((id) => id !== row.id);
      ids.splice(checkPosition(position, ids.length + 1) - 1, 0, row.id);
      await renumber(ids);
      return this.list();
    },

    /** The whole order at once: every policy's id (or name), each once. */
    async reorder(refs: unknown): Promise<AccessPolicy[]> {
      const current = await orderedIds();
      if (!Array.isArray(refs) || refs.length !== current.length || refs.some((ref) => typeof ref !== 'string')) {
        throw invalid('access_policy.invalid_order', `The order lists every policy (${current.length}) once, by id or name.`, 'ids');
      }
      const ids: string[] = [];
      for (const ref of refs as string[]) {
        const row = await findRow(ref);
        if (!row || ids.includes(row.id)) throw invalid('access_policy.invalid_order', `The order lists every policy (${current.length}) once, by id or name.`, 'ids');
        ids.push(row.id);
      }
      await renumber(ids);
      return this.list();
    },

    /** Every policy, compiled for evaluation. */
    async compiled(): Promise<CompiledPolicy[]> {
      return (await this.list()).map(compilePolicy);
    },

    /** The ids of the person's groups, the built-in All Users included. */
    async groupIdsOf(userId: string): Promise<Set<string>> {
      const rows = await db
        .selectFrom('user_groups')
        .select('id')
        .where((eb) =>
          eb.or([
            eb('builtin', '=', 1),
            eb.exists(
              eb
                .selectFrom('group_members')
                .select(sql`1`.as('one'))
                .whereRef('group_members.group_id', '=', 'user_groups.id')
                .where('group_members.user_id', '=', userId),
            ),
          ]),
        )
        .execute();
      return new Set(rows.map((row) => row.id));
    },

    /** The decision for one person in one context (their groups looked up here). */
    async decide(userId: string, context: Omit<AccessContext, 'groupIds'>): Promise<PolicyDecision> {
      const policies = (await this.compiled()).filter((policy) => policy.enabled);
      if (policies.length === 0) return { action: DEFAULT_POLICY.action, policy: undefined };
      return evaluatePolicies(policies, { ...context, groupIds: await this.groupIdsOf(userId) });
    },

    /**
     * The enrolment deadline of a person without a factor under a require_mfa policy, counted from
     * the first time that policy required MFA of them (recorded now if this is that time).
     */
    async enrolmentDeadline(userId: string, policy: { id: string; grace_days: number }, atMs: number = clock()): Promise<{ firstRequiredAt: string; deadline: Date; inGrace: boolean }> {
      const at = new Date(atMs).toISOString();
      await db
        .insertInto('mfa_requirements')
        .values({ user_id: userId, policy_id: policy.id, first_required_at: at })
        .onConflict((oc) => oc.columns(['user_id', 'policy_id']).doNothing())
        .execute();
      const row = await db.selectFrom('mfa_requirements').select('first_required_at').where('user_id', '=', userId).where('policy_id', '=', policy.id).executeTakeFirst();
      const firstRequiredAt = row?.first_required_at ?? at;
      const deadline = enrolmentDeadline(firstRequiredAt, policy.grace_days);
      return { firstRequiredAt, deadline, inGrace: atMs < deadline.getTime() };
    },

    /**
     * The enabled require_mfa policies that could apply to this person wherever they sign in (their
     * groups match; resource and conditions aside): the reason to keep their last factor.
     */
    async requiringMfaOf(userId: string): Promise<{ id: string; name: string }[]> {
      const policies = (await this.compiled()).filter((policy) => policy.enabled && policy.action === 'require_mfa');
      if (policies.length === 0) return [];
      const groupIds = await this.groupIdsOf(userId);
      return policies.filter((policy) => policy.users === 'all' || policy.user_groups.some((group) => groupIds.has(group.id))).map((policy) => ({ id: policy.id, name: policy.name }));
    },
  };
}

export type AccessPolicyStore = ReturnType<typeof createAccessPolicyStore>;

// --- enforcement (no HTTP: the OIDC layer asks, src/oidc/provider.ts) --------------------------

/**
 * Authentication context classes (the `acr` claim, `acr_values` requests). An app asking for either
 * MFA value in `acr_values` gets a step-up (or an enrolment) instead of a silent single sign-on; the
 * ID token's `acr` says which was done. The PAPE URI is the one many apps already send.
 */
export const ACR_SINGLE_FACTOR = 'urn:gatehouse:single-factor';
export const ACR_MFA = 'urn:gatehouse:mfa';
export const ACR_PAPE_MFA = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';
export const ACR_VALUES = [ACR_SINGLE_FACTOR, ACR_MFA, ACR_PAPE_MFA] as const;
export const MFA_ACRS: readonly string[] = [ACR_MFA, ACR_PAPE_MFA];

/** The acr of a session with that amr, in the app's own words when it asked for an MFA value. */
export function acrFor(amr: readonly string[], requested: readonly string[]): string {
  if (!amr.includes('mfa')) return ACR_SINGLE_FACTOR;
  return requested.find((value) => MFA_ACRS.includes(value)) ?? ACR_MFA;
}

/** The pseudo-policy named in the audit log when the app, not a policy, asked for MFA. */
export const APP_REQUESTED_MFA = { id: 'acr_values', name: 'requested by the app (acr_values)' };

/** What the policies ask of one sign-in or single sign-on, when they ask something. */
export type PolicyRequirement =
  | { kind: 'deny'; policy: { id: string; name: string } }
  /** The person has a factor: ask for it (their session has none yet). */
  | { kind: 'step_up'; policy: { id: string; name: string } }
  /** The person has no factor: enrol now (`inGrace`: or postpone until `deadline`). */
  | { kind: 'enrol'; policy: { id: string; name: string }; deadline: string; inGrace: boolean };

export interface PolicyGateInput {
  accountId: string;
  resource: AccessContext['resource'];
  address: string;
  /** The session's upstream identity provider, when it was a federated sign-in. */
  federated: boolean;
  /** The session's amr (RFC 8176); `mfa` in it (ours, or an upstream's) satisfies require_mfa. */
  amr: readonly string[];
  /** Policies whose enrolment this session postponed (within the grace period). */
  postponed: readonly string[];
  /** The app asked for MFA (acr_values): no silent pass without it, whatever the policies say. */
  mfaRequested?: boolean;
}

export interface PolicyDecisionEvent {
  accountId: string;
  resource: AccessContext['resource'];
  address: string;
  outcome: 'denied' | 'step_up' | 'enrolment_required' | 'enrolment_offered';
  policy: { id: string; name: string };
  deadline?: string;
}

/**
 * Turns a policy decision into what the sign-in must do next. Every decision that denies or steps
 * up is reported through `onDecision` (the audit log), with the policy's name.
 */
export function createPolicyGate(deps: {
  policies: AccessPolicyStore;
  hasSecondFactor: (userId: string) => Promise<boolean>;
  clock?: Clock;
  onDecision?: (event: PolicyDecisionEvent) => void;
}) {
  const clock = deps.clock ?? Date.now;
  return {
    async evaluate(input: PolicyGateInput): Promise<PolicyRequirement | undefined> {
      const decision = await deps.policies.decide(input.accountId, { resource: input.resource, address: input.address, federated: input.federated });
      const { policy } = decision;
      if (!policy || decision.action === 'allow') {
        if (!input.mfaRequested || input.amr.includes('mfa')) return undefined;
        // The app's request has no grace period: it wants MFA now.
        const kind = (await deps.hasSecondFactor(input.accountId)) ? 'step_up' : 'enrol';
        deps.onDecision?.({ accountId: input.accountId, resource: input.resource, address: input.address, outcome: kind === 'step_up' ? 'step_up' : 'enrolment_required', policy: APP_REQUESTED_MFA });
        return kind === 'step_up' ? { kind, policy: APP_REQUESTED_MFA } : { kind, policy: APP_REQUESTED_MFA, deadline: new Date(clock()).toISOString(), inGrace: false };
      }
      const named = { id: policy.id, name: policy.name };
      const report = (outcome: PolicyDecisionEvent['outcome'], deadline?: string) =>
        deps.onDecision?.({ accountId: input.accountId, resource: input.resource, address: input.address, outcome, policy: named, ...(deadline ? { deadline } : {}) });
      if (decision.action === 'deny') {
        report('denied');
        return { kind: 'deny', policy: named };
      }
      if (input.amr.includes('mfa')) return undefined;
      if (await deps.hasSecondFactor(input.accountId)) {
        report('step_up');
        return { kind: 'step_up', policy: named };
      }
      const grace = await deps.policies.enrolmentDeadline(input.accountId, policy, clock());
      const deadline = grace.deadline.toISOString();
      if (grace.inGrace && input.postponed.includes(policy.id) && !input.mfaRequested) return undefined;
      // An app asking for MFA (acr_values) wants it now: nothing to postpone, whatever the grace.
      const postponable = grace.inGrace && !input.mfaRequested;
      report(postponable ? 'enrolment_offered' : 'enrolment_required', deadline);
      return { kind: 'enrol', policy: named, deadline, inGrace: postponable };
    },
  };
}

export type PolicyGate = ReturnType<typeof createPolicyGate>;
