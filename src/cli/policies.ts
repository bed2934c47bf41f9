import { type AccessPolicy, type AccessPolicyInput, DEFAULT_POLICY } from '../authn/policies.ts';
import type { CommandGroup, CommandSpec, Context } from './command.ts';
import { fields, hint, table, yesNo } from './command.ts';

const POLICY_ARG = { name: 'POLICY', description: 'The access policy: id or name (any case).' };

const policyTarget = (policy: AccessPolicy) => ({ type: 'access_policy', id: policy.id, name: policy.name });

function wholeNumber(ctx: Context, option: string, max: number): number | undefined {
  const text = ctx.string(option);
  if (text === undefined) return undefined;
  if (!/^\d{1,4}$/.test(text.trim()) || Number(text.trim()) > max) throw ctx.usage(`--${option} expects a whole number up to ${max} (got "${text}")`);
  return Number(text.trim());
}

const resourceText = (policy: AccessPolicy) => (policy.resource === 'apps' ? `apps: ${policy.apps.map((a) => a.label).join(', ')}` : policy.resource === 'portal' ? 'user portal' : 'all apps');
const usersText = (policy: AccessPolicy) => (policy.users === 'all' ? 'everyone' : `groups: ${policy.user_groups.map((g) => g.name).join(', ')}`);
const conditionsText = (policy: AccessPolicy) =>
  [
    policy.addresses_in.length ? `from ${policy.addresses_in.join(' ')}` : '',
    policy.addresses_not_in.length ? `not from ${policy.addresses_not_in.join(' ')}` : '',
    policy.sign_in === 'any' ? '' : policy.sign_in === 'federated' ? 'federated sign-in' : 'not federated',
  ]
    .filter(Boolean)
    .join('; ') || '-';

const policyText = (policy: AccessPolicy): string =>
  fields([
    ['id', policy.id],
    ['name', policy.name],
    ['position', String(policy.position)],
    ['enabled', yesNo(policy.enabled)],
    ['resource', resourceText(policy)],
    ['who', usersText(policy)],
    ['addresses in', policy.addresses_in],
    ['addresses not in', policy.addresses_not_in],
    ['sign-in', policy.sign_in],
    ['action', policy.action],
    ['grace days', policy.action === 'require_mfa' ? String(policy.grace_days) : '-'],
  ]);

/** The options create and update share; only those given are returned. */
const SHARED_OPTIONS = {
  resource: { type: 'string', value: 'RESOURCE', description: 'portal, all_apps or apps (then --app).' },
  app: { type: 'string', multiple: true, value: 'APP', description: 'With --resource apps: an app (id, client id or label).' },
  group: { type: 'string', multiple: true, value: 'GROUP', description: 'Only members of this group (id or name); without it, everyone.' },
  everyone: { type: 'boolean', description: 'Everyone (instead of the groups given before).' },
  'address-in': { type: 'string', multiple: true, value: 'CIDR', description: 'The client address is in this block (IPv4 or IPv6).' },
  'address-not-in': { type: 'string', multiple: true, value: 'CIDR', description: 'The client address is not in this block.' },
  'sign-in': { type: 'string', value: 'WAY', description: 'any, federated (through an upstream identity provider) or not_federated.' },
  action: { type: 'string', value: 'ACTION', description: 'allow, require_mfa or deny.' },
  'grace-days': { type: 'string', value: 'N', description: 'require_mfa: days to postpone enrolling (0-365, default 7).' },
  position: { type: 'string', value: 'N', description: 'Where in the order (1 = first).' },
} as const;

function inputOf(ctx: Context): AccessPolicyInput {
  const input: AccessPolicyInput = {};
  const resource = ctx.string('resource');
  if (resource !== undefined) input.resource = resource;
  if (ctx.strings('app').length) input.apps = ctx.strings('app');
  if (ctx.flag('everyone') && ctx.strings('group').length) throw ctx.usage('--everyone and --group cannot be given together');
  if (ctx.strings('group').length) {
    input.users = 'groups';
    input.user_groups = ctx.strings('group');
  }
  if (ctx.flag('everyone')) input.users = 'all';
  if (ctx.strings('address-in').length) input.addresses_in = ctx.strings('address-in');
  if (ctx.strings('address-not-in').length) input.addresses_not_in = ctx.strings('address-not-in');
  const signIn = ctx.string('sign-in');
  if (signIn !== undefined) input.sign_in = signIn;
  const action = ctx.string('action');
  if (action !== undefined) input.action = action;
  const grace = wholeNumber(ctx, 'grace-days', 9999);
  if (grace !== undefined) input.grace_days = grace;
  const position = wholeNumber(ctx, 'position', 9999);
  if (position !== undefined) input.position = position;
  return input;
}

const create: CommandSpec = {
  name: 'policies create',
  summary: 'Add an access policy: allow, require MFA or deny, for a resource, people and conditions.',
  options: {
    name: { type: 'string', required: true, value: 'NAME', description: 'Unique name (any case).' },
    ...SHARED_OPTIONS,
    resource: { ...SHARED_OPTIONS.resource, required: true },
    action: { ...SHARED_OPTIONS.action, required: true },
    disabled: { type: 'boolean', description: 'Create it disabled.' },
  },
  notes: 'The first enabled policy that matches decides; when none does, the default policy allows. Example (seed 004): policies create --name "No portal after Entra" --resource portal --sign-in federated --action deny',
  async run(ctx) {
    const name = ctx.need('name');
    const input = { ...inputOf(ctx), name, enabled: !ctx.flag('disabled') };
    const policy = await ctx.change('access_policy.create', (d) => d.accessPolicies.create(input), (p) => ({ target: policyTarget(p), details: { action: p.action, position: p.position } }), {
      type: 'access_policy',
      name,
    });
    return { data: policy, text: `Created access policy ${policy.name} (id ${policy.id}) at position ${policy.position}.\n${policyText(policy)}` };
  },
};

const list: CommandSpec = {
  name: 'policies list',
  summary: 'List access policies in evaluation order, then the default.',
  async run(ctx) {
    const policies = await (await ctx.runtime()).directory.accessPolicies.list();
    const rows = policies.map((p) => [String(p.position), p.name, yesNo(p.enabled), resourceText(p), usersText(p), conditionsText(p), p.action, p.id]);
    rows.push(['-', DEFAULT_POLICY.name, 'yes', 'everything', 'everyone', '-', DEFAULT_POLICY.action, '']);
    return {
      data: { data: policies, total: policies.length, default_policy: DEFAULT_POLICY },
      text: `${table(['POSITION', 'NAME', 'ENABLED', 'RESOURCE', 'WHO', 'CONDITIONS', 'ACTION', 'ID'], rows)}${policies.length ? '' : `\nAdd one with: ${hint(ctx, 'policies create --name NAME --resource RESOURCE --action ACTION')}`}`,
    };
  },
};

const show: CommandSpec = {
  name: 'policies show',
  summary: 'Show an access policy.',
  args: [POLICY_ARG],
  async run(ctx) {
    const policy = await (await ctx.runtime()).directory.accessPolicies.get(ctx.arg(0));
    return { data: policy, text: policyText(policy) };
  },
};

const update: CommandSpec = {
  name: 'policies update',
  summary: 'Change an access policy (only the options given; lists given replace).',
  args: [POLICY_ARG],
  options: {
    name: { type: 'string', value: 'NAME', description: 'A new name.' },
    ...SHARED_OPTIONS,
    enable: { type: 'boolean', description: 'Enable it.' },
    disable: { type: 'boolean', description: 'Disable it: it decides nothing.' },
  },
  async run(ctx) {
    const ref = ctx.arg(0);
    if (ctx.flag('enable') && ctx.flag('disable')) throw ctx.usage('--enable and --disable cannot be given together');
    const changes = inputOf(ctx);
    const name = ctx.string('name');
    if (name !== undefined) changes.name = name;
    if (ctx.flag('enable') || ctx.flag('disable')) changes.enabled = ctx.flag('enable');
    if (Object.keys(changes).length === 0) throw ctx.usage('nothing to change: give at least one option');
    const policy = await ctx.change('access_policy.update', (d) => d.accessPolicies.update(ref, changes), (p) => ({ target: policyTarget(p), details: { fields: Object.keys(changes) } }), {
      type: 'access_policy',
      id: ref,
    });
    return { data: policy, text: `Updated access policy ${policy.name}.\n${policyText(policy)}` };
  },
};

const move: CommandSpec = {
  name: 'policies move',
  summary: 'Move an access policy to a position in the order (1 = evaluated first).',
  args: [POLICY_ARG, { name: 'POSITION', description: 'The new position, from 1.' }],
  async run(ctx) {
    const ref = ctx.arg(0);
    const text = ctx.arg(1);
    if (!/^\d{1,4}$/.test(text) || Number(text) < 1) throw ctx.usage(`POSITION is a whole number from 1 (got "${text}")`);
    const policies = await ctx.change('access_policy.reorder', (d) => d.accessPolicies.move(ref, Number(text)), (all) => ({ details: { order: all.map((p) => p.name) } }), { type: 'access_policy', id: ref });
    return { data: policies, text: `Moved. The order is now:\n${policies.map((p) => `${p.position}. ${p.name}`).join('\n')}` };
  },
};

const remove: CommandSpec = {
  name: 'policies delete',
  summary: 'Delete an access policy; the ones after it move up.',
  args: [POLICY_ARG],
  async run(ctx) {
    const ref = ctx.arg(0);
    const policy = await ctx.change('access_policy.delete', (d) => d.accessPolicies.remove(ref), (p) => ({ target: policyTarget(p) }), { type: 'access_policy', id: ref });
    return { data: policy, text: `Deleted access policy ${policy.name}.` };
  },
};

export const policiesGroup: CommandGroup = {
  name: 'policies',
  summary: 'Access policies: who may reach the portal and apps, from where, and when MFA is required.',
  commands: [list, show, create, update, move, remove],
};
