import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../../directory/errors.ts';
import type { Directory, DirectoryStores } from '../../../directory/index.ts';
import {
  USER_COMPARISONS,
  USER_QUERY_BOOLEANS,
  USER_QUERY_FIELDS,
  type User,
  type UserChanges,
  type UserComparison,
  type UserCondition,
  type UserQueryField,
  type UserState,
} from '../../../directory/users.ts';
import { refuseExternallyManagedPassword } from '../../../federation/routing.ts';
import { type ApiAuthenticator, assertMayActOn, principalOf } from '../../plugins/api-auth.ts';
import { badQuery, orgHeaders, pageQuery, project, requireByBody, splitList, tags } from './jumpcloud-common.ts';
import { errorResponses, idParams } from './schemas.ts';

/** The user as JumpCloud's v1 API shows a system user. */
export interface SystemUser {
  _id: string;
  id: string;
  username: string;
  email: string;
  firstname: string;
  lastname: string;
  middlename: string;
  displayname: string;
  activated: boolean;
  account_locked: boolean;
  state: UserState;
  suspended: boolean;
  created: string;
  attributes: { name: string; value: string }[];
  password_expired: boolean;
  totp_enabled: boolean;
  externally_managed: boolean;
}

export function toSystemUser(user: User): SystemUser {
  return {
    _id: user.id,
    id: user.id,
    username: user.username,
    email: user.email,
    firstname: user.firstname,
    lastname: user.lastname,
    middlename: '',
    displayname: user.displayname,
    // JumpCloud: activated once the user has a password; a staged user is not yet.
    activated: user.has_password && user.state !== 'STAGED',
    account_locked: user.account_locked,
    state: user.state,
    suspended: user.state === 'SUSPENDED',
    created: user.created,
    attributes: Object.entries(user.attributes).map(([name, value]) => ({ name, value })),
    password_expired: false,
    totp_enabled: false,
    externally_managed: false,
  };
}

const ALWAYS = ['_id', 'id'];

const systemUserSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'A user in the shape of a JumpCloud system user. With `fields`, only those (and the ids) are present.',
  properties: {
    _id: { type: 'string', description: 'Same as id (JumpCloud clients read either).' },
    id: { type: 'string', pattern: '^[0-9a-f]{24}$' },
    username: { type: 'string' },
    email: { type: 'string' },
    firstname: { type: 'string' },
    lastname: { type: 'string' },
    middlename: { type: 'string', description: 'Always empty: Gatehouse keeps no middle name.' },
    displayname: { type: 'string' },
    activated: { type: 'boolean', description: 'The user has a password and is not STAGED.' },
    account_locked: { type: 'boolean' },
    state: { type: 'string', enum: ['STAGED', 'ACTIVATED', 'SUSPENDED'] },
    suspended: { type: 'boolean', description: 'state is SUSPENDED.' },
    created: { type: 'string', format: 'date-time' },
    attributes: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['name', 'value'], properties: { name: { type: 'string' }, value: { type: 'string' } } },
    },
    password_expired: { type: 'boolean', description: 'Always false.' },
    totp_enabled: { type: 'boolean', description: 'Always false.' },
    externally_managed: { type: 'boolean', description: 'Always false.' },
  },
} as const;

const attributesInput = {
  type: 'array',
  maxItems: 100,
  description: 'Custom attributes; replaces all of them.',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'value'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, value: { type: 'string', maxLength: 1024 } },
  },
} as const;

const alwaysFalse = (what: string) => ({ type: 'boolean', enum: [false], description: `Accepted as false only (${what}).` }) as const;

const writableProperties = {
  username: { type: 'string', minLength: 1, maxLength: 128 },
  email: { type: 'string', minLength: 3, maxLength: 254 },
  firstname: { type: 'string', maxLength: 256 },
  lastname: { type: 'string', maxLength: 256 },
  middlename: { type: 'string', maxLength: 0, description: 'Accepted empty only: Gatehouse keeps no middle name.' },
  displayname: { type: 'string', maxLength: 256 },
  password: { type: 'string', minLength: 1, maxLength: 1024 },
  attributes: attributesInput,
  password_expired: alwaysFalse('passwords do not expire'),
  totp_enabled: alwaysFalse('no TOTP enrolment through this API'),
  externally_managed: alwaysFalse('Gatehouse is the source of truth'),
} as const;

interface WritableFields {
  username?: string;
  email?: string;
  firstname?: string;
  lastname?: string;
  middlename?: string;
  displayname?: string;
  password?: string;
  attributes?: { name: string; value: string }[];
  password_expired?: false;
  totp_enabled?: false;
  externally_managed?: false;
}

type CreateBody = WritableFields & { username: string; email: string; state?: 'STAGED' | 'ACTIVATED' };
type PutBody = WritableFields & { state?: UserState; suspended?: boolean; account_locked?: boolean };

function attributeRecord(attributes: { name: string; value: string }[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [i, { name, value }] of attributes.entries()) {
    if (Object.hasOwn(record, name)) throw badQuery(`body.attributes[${i}].name`, `The attribute "${name}" is given twice.`);
    record[name] = value;
  }
  return record;
}

const userTarget = (user: User) => ({ type: 'user', id: user.id, name: user.username });

/**
 * `field:$op:value` (the value may itself contain colons). Booleans compare with true or false;
 * `_id` is the same as `id`.
 */
function parseFilter(text: string, path: string): UserCondition {
  const match = /^([A-Za-z_]+):\$([a-z]+):(.*)$/s.exec(text);
  if (!match) throw badQuery(path, `"${text}" is not a filter: use field:$op:value, e.g. email:$eq:ada@example.com.`);
  const [, rawField = '', op = '', rawValue = ''] = match;
  const field = (rawField === '_id' ? 'id' : rawField) as UserQueryField;
  if (!USER_QUERY_FIELDS.includes(field)) throw badQuery(path, `Cannot filter on "${rawField}": use one of ${USER_QUERY_FIELDS.join(', ')}.`);
  if (!USER_COMPARISONS.includes(op as UserComparison)) throw badQuery(path, `Unknown operator $${op}: use one of ${USER_COMPARISONS.map((o) => `$${o}`).join(' ')}.`);
  // A client that forgets to encode `+` in an email sends a space (form encoding); usernames and
  // emails never contain one, so it can only have been a `+`.
  if (field === 'email' || field === 'username') return { field, op: op as UserComparison, value: rawValue.replaceAll(' ', '+') };
  if (!USER_QUERY_BOOLEANS.includes(field)) return { field, op: op as UserComparison, value: rawValue };
  if (rawValue !== 'true' && rawValue !== 'false') throw badQuery(path, `${field} is compared with true or false, not "${rawValue}".`);
  return { field, op: op as UserComparison, value: rawValue === 'true' };
}

const AND_KEY = /^filter\[(?:\d{1,3}|and\]\[\d{1,3})\]$/;
const OR_KEY = /^filter\[or\]\[\d{1,3}\]$/;

/** `filter` (repeatable), `filter[N]` and `filter[and][N]` are ANDed; `filter[or][N]` are ORed. */
function filtersOf(query: Record<string, unknown>): { all: UserCondition[]; any: UserCondition[] } {
  const all: UserCondition[] = [];
  const any: UserCondition[] = [];
  for (const [key, raw] of Object.entries(query)) {
    const into = key === 'filter' || AND_KEY.test(key) ? all : OR_KEY.test(key) ? any : undefined;
    if (!into) continue;
    const values = (Array.isArray(raw) ? raw : [raw]) as string[];
    for (const [i, value] of values.entries()) into.push(parseFilter(value, `querystring.${key}${values.length > 1 ? `[${i}]` : ''}`));
  }
  return { all, any };
}

function parseSort(text: string | undefined): { field: UserQueryField; descending: boolean }[] {
  return splitList(text).map((item) => {
    const descending = item.startsWith('-');
    const name = item.replace(/^[-+]/, '');
    const field = (name === '_id' ? 'id' : name) as UserQueryField;
    if (!USER_QUERY_FIELDS.includes(field)) throw badQuery('querystring.sort', `Cannot sort on "${name}": use one of ${USER_QUERY_FIELDS.join(', ')}.`);
    return { field, descending };
  });
}

/** The state a PUT asks for, or undefined when it asks for no change. */
function wantedState(current: User, body: PutBody): UserState | undefined {
  const { state, suspended } = body;
  if (suspended === true && state !== undefined && state !== 'SUSPENDED') throw badQuery('body.suspended', `suspended: true contradicts state ${state}.`);
  if (suspended === false && state === 'SUSPENDED') throw badQuery('body.suspended', 'suspended: false contradicts state SUSPENDED.');
  const wanted = state ?? (suspended === true ? 'SUSPENDED' : suspended === false && current.state === 'SUSPENDED' ? 'ACTIVATED' : undefined);
  if (wanted === undefined || wanted === current.state) return undefined;
  if (wanted === 'STAGED') throw badQuery('body.state', 'A user who has left STAGED cannot return to it.');
  return wanted;
}

/** Fields a help desk may change through PUT (state, unlock, password); anything else needs `directory`. */
const HELPDESK_FIELDS = new Set(['suspended', 'account_locked', 'state', 'password', 'password_expired', 'totp_enabled', 'externally_managed']);

interface Step {
  action: string;
  run: (d: DirectoryStores) => Promise<User>;
  details?: Record<string, unknown>;
}

export function registerSystemUserRoutes(app: FastifyInstance, directory: Directory, auth: ApiAuthenticator): void {
  const filterValues = { type: 'array', maxItems: 50, items: { type: 'string', maxLength: 2048 } } as const;

  app.get<{ Querystring: Record<string, unknown> & { limit: number; skip: number; sort?: string; fields?: string } }>(
    '/systemusers',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'List system users (JumpCloud v1)',
        description:
          '`{ results, totalCount }`, in creation order unless `sort` says otherwise. `filter=field:$op:value` with `$eq $ne $gt $gte $lt $lte` ' +
          '(exact and case-sensitive; booleans as true/false; `created` as an ISO 8601 time) on ' +
          `${USER_QUERY_FIELDS.join(', ')}. Several \`filter\`, \`filter[N]\` or \`filter[and][N]\` parameters are ANDed; \`filter[or][N]\` ones are ORed. ` +
          '`sort` and `fields` take space- or comma-separated field names (`-field` sorts descending). In an email or username filter a space reads as `+` (an unencoded `+`).',
        headers: orgHeaders,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...pageQuery(1000),
            sort: { type: 'string', maxLength: 500 },
            fields: { type: 'string', maxLength: 1000 },
            filter: filterValues,
          },
          patternProperties: { [AND_KEY.source]: filterValues, [OR_KEY.source]: filterValues },
        },
        response: {
          200: { type: 'object', additionalProperties: false, required: ['results', 'totalCount'], properties: { results: { type: 'array', items: systemUserSchema }, totalCount: { type: 'integer' } } },
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const { limit, skip, sort, fields } = request.query;
      const { all, any } = filtersOf(request.query);
      const { users, total } = await directory.users.query({ all, any, sort: parseSort(sort), limit, offset: skip });
      const wanted = splitList(fields);
      return { results: users.map((user) => project(toSystemUser(user), wanted, ALWAYS)), totalCount: total };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { fields?: string } }>(
    '/systemusers/:id',
    {
      preValidation: auth.require('read'),
      schema: {
        tags,
        summary: 'Get a system user (JumpCloud v1)',
        description: 'By id (a username or email works too).',
        headers: orgHeaders,
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: { fields: { type: 'string', maxLength: 1000 } } },
        response: { 200: systemUserSchema, ...errorResponses },
      },
    },
    async (request) => project(toSystemUser(await directory.users.get(request.params.id)), splitList(request.query.fields), ALWAYS),
  );

  app.post<{ Body: CreateBody }>(
    '/systemusers',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Create a system user (JumpCloud v1)',
        description: 'Without a password the user is not `activated` (cannot sign in) until one is set. `state` defaults to ACTIVATED.',
        headers: orgHeaders,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'email'],
          properties: { ...writableProperties, state: { type: 'string', enum: ['STAGED', 'ACTIVATED'] } },
        },
        response: { 200: systemUserSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { username, email, firstname, lastname, displayname, password, state, attributes } = request.body;
      const user = await directory.change(
        principalOf(request).actor,
        'user.create',
        (d) => d.users.create({ username, email, firstname, lastname, displayname, password, state, attributes: attributes && attributeRecord(attributes) }),
        (u) => ({ target: userTarget(u) }),
        { type: 'user', name: username },
      );
      return toSystemUser(user);
    },
  );

  app.put<{ Params: { id: string }; Body: PutBody }>(
    '/systemusers/:id',
    {
      preValidation: requireByBody(auth, HELPDESK_FIELDS),
      schema: {
        tags,
        summary: 'Update a system user (JumpCloud v1)',
        description:
          'Only the fields sent change. `suspended: true` suspends (state SUSPENDED), `suspended: false` reactivates a suspended user, ' +
          '`state` ACTIVATED or SUSPENDED sets the state, `account_locked: false` unlocks, `password` sets the password. ' +
          'State, unlock and password alone need the helpdesk permission; profile fields need directory. ' +
          'Each change is audited under its own action (user.update, user.set_password, user.suspend, user.activate, user.unlock).',
        headers: orgHeaders,
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            ...writableProperties,
            state: { type: 'string', enum: ['STAGED', 'ACTIVATED', 'SUSPENDED'] },
            suspended: { type: 'boolean' },
            account_locked: { type: 'boolean', description: 'false unlocks; true is accepted only for a user already locked.' },
          },
        },
        response: { 200: systemUserSchema, ...errorResponses },
      },
    },
    async (request) => {
      const { actor, role } = principalOf(request);
      const body = request.body;
      await assertMayActOn(directory, role, request.params.id);
      const current = await directory.users.get(request.params.id);
      const steps: Step[] = [];

      const profile: UserChanges = {};
      for (const field of ['username', 'email', 'firstname', 'lastname', 'displayname'] as const) {
        if (body[field] !== undefined) profile[field] = body[field];
      }
      if (body.attributes !== undefined) profile.attributes = attributeRecord(body.attributes);
      if (Object.keys(profile).length > 0) {
        steps.push({ action: 'user.update', run: (d) => d.users.change(current.id, profile), details: { fields: Object.keys(profile) } });
      }
      const password = body.password;
      if (password !== undefined) {
        steps.push({
          action: 'user.set_password',
          run: async (d) => {
            await refuseExternallyManagedPassword(d, current.id);
            return d.users.setPassword(current.id, password);
          },
        });
      }
      const state = wantedState(current, body);
      if (state === 'SUSPENDED') steps.push({ action: 'user.suspend', run: (d) => d.users.suspend(current.id) });
      if (state === 'ACTIVATED') steps.push({ action: 'user.activate', run: (d) => d.users.activate(current.id) });
      if (body.account_locked === true && !current.account_locked) {
        throw badQuery('body.account_locked', 'Accounts are locked only by failed sign-ins: account_locked can be set to false (unlock), not true.');
      }
      if (body.account_locked === false && current.account_locked) steps.push({ action: 'user.unlock', run: (d) => d.users.unlock(current.id) });

      const [first, ...rest] = steps;
      if (!first) return toSystemUser(current);
      // All in one transaction; the first change's event is written by directory.change (and is the
      // one recorded as failed if anything fails), the others as they happen.
      const user = await directory.change(
        actor,
        first.action,
        async (d) => {
          let user = await first.run(d);
          for (const step of rest) {
            user = await step.run(d);
            await d.audit.record(actor, { action: step.action, target: userTarget(user), details: step.details });
          }
          return user;
        },
        (u) => ({ target: userTarget(u), details: first.details }),
        userTarget(current),
      );
      return toSystemUser(user);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/systemusers/:id',
    {
      preValidation: auth.require('directory'),
      schema: {
        tags,
        summary: 'Delete a system user (JumpCloud v1)',
        description: 'Returns the deleted user, as JumpCloud does.',
        headers: orgHeaders,
        params: idParams,
        response: { 200: systemUserSchema, ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const target = await directory.users.get(request.params.id);
      if (target.id === principal.user.id) throw new DomainError('user.self_delete', 409, 'You cannot delete your own account.');
      await assertMayActOn(directory, principal.role, target.id);
      const user = await directory.change(principal.actor, 'user.delete', (d) => d.users.delete(target.id), (u) => ({ target: userTarget(u) }), userTarget(target));
      return toSystemUser(user);
    },
  );
}
