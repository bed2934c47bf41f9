import type { RoutingPolicy, RoutingPolicyChanges } from '../federation/types.ts';
import type { CommandGroup, CommandSpec, Context } from './command.ts';
import { fields, hint, table, yesNo } from './command.ts';

const POLICY_ARG = { name: 'POLICY', description: 'The routing policy: id or name.' };

const policyTarget = (policy: RoutingPolicy) => ({ type: 'routing_policy', id: policy.id, name: policy.name });

function priorityOf(ctx: Context): number | undefined {
  const text = ctx.string('priority');
  if (text === undefined) return undefined;
  if (!/^\d{1,7}$/.test(text.trim())) throw ctx.usage(`--priority expects a whole number from 0 (got "${text}")`);
  return Number(text.trim());
}

const policyText = (policy: RoutingPolicy): string =>
  fields([
    ['id', policy.id],
    ['name', policy.name],
    ['enabled', yesNo(policy.enabled)],
    ['priority', String(policy.priority)],
    ['identity provider', policy.identity_provider.name],
    ['groups', policy.user_groups.map((g) => g.name)],
  ]);

const create: CommandSpec = {
  name: 'routing-policies create',
  summary: 'Send the members of groups to an identity provider to sign in.',
  options: {
    name: { type: 'string', required: true, value: 'NAME', description: 'Unique name.' },
    idp: { type: 'string', required: true, value: 'IDP', description: 'The identity provider: id or name.' },
    group: { type: 'string', required: true, multiple: true, value: 'GROUP', description: 'A group whose members sign in there (id or name).' },
    priority: { type: 'string', value: 'N', description: 'Lowest wins for people in groups of several policies (default: after the others).' },
    disabled: { type: 'boolean', description: 'Create it disabled.' },
  },
  notes: 'Their Gatehouse password is then no longer used (it is managed by the provider) until the policy is disabled or deleted.',
  async run(ctx) {
    const name = ctx.need('name');
    const input = { name, identity_provider: ctx.need('idp'), user_groups: ctx.strings('group'), priority: priorityOf(ctx), enabled: !ctx.flag('disabled') };
    const policy = await ctx.change(
      'routing_policy.create',
      (d) => d.routingPolicies.create(input),
      (p) => ({ target: policyTarget(p), details: { identity_provider: p.identity_provider.name, user_groups: p.user_groups.map((g) => g.name) } }),
      { type: 'routing_policy', name },
    );
    return {
      data: policy,
      text: `Created routing policy ${policy.name} (id ${policy.id}): members of ${policy.user_groups.map((g) => g.name).join(', ')} sign in with ${policy.identity_provider.name}.`,
    };
  },
};

const list: CommandSpec = {
  name: 'routing-policies list',
  summary: 'List routing policies, by priority.',
  async run(ctx) {
    const policies = await (await ctx.runtime()).directory.routingPolicies.list();
    return {
      data: policies,
      text: policies.length
        ? table(
            ['PRIORITY', 'NAME', 'ENABLED', 'IDENTITY PROVIDER', 'GROUPS', 'ID'],
            policies.map((p) => [String(p.priority), p.name, yesNo(p.enabled), p.identity_provider.name, p.user_groups.map((g) => g.name).join(', '), p.id]),
          )
        : `No routing policies: everyone signs in with their Gatehouse password. Add one with: ${hint(ctx, 'routing-policies create --name NAME --idp IDP --group GROUP')}`,
    };
  },
};

const update: CommandSpec = {
  name: 'routing-policies update',
  summary: 'Change a routing policy (only the options given).',
  args: [POLICY_ARG],
  options: {
    name: { type: 'string', value: 'NAME', description: 'A new name.' },
    idp: { type: 'string', value: 'IDP', description: 'Another identity provider.' },
    group: { type: 'string', multiple: true, value: 'GROUP', description: 'The groups (replacing the current ones).' },
    priority: { type: 'string', value: 'N', description: 'A new priority (lowest wins).' },
    enable: { type: 'boolean', description: 'Enable it.' },
    disable: { type: 'boolean', description: 'Disable it: its people sign in with their Gatehouse password again.' },
  },
  async run(ctx) {
    const ref = ctx.arg(0);
    if (ctx.flag('enable') && ctx.flag('disable')) throw ctx.usage('--enable and --disable cannot be given together');
    const changes: RoutingPolicyChanges = {};
    const name = ctx.string('name');
    if (name !== undefined) changes.name = name;
    const idp = ctx.string('idp');
    if (idp !== undefined) changes.identity_provider = idp;
    if (ctx.strings('group').length > 0) changes.user_groups = ctx.strings('group');
    const priority = priorityOf(ctx);
    if (priority !== undefined) changes.priority = priority;
    if (ctx.flag('enable') || ctx.flag('disable')) changes.enabled = ctx.flag('enable');
    if (Object.keys(changes).length === 0) throw ctx.usage('nothing to change: give at least one option');
    const policy = await ctx.change(
      'routing_policy.update',
      (d) => d.routingPolicies.update(ref, changes),
      (p) => ({ target: policyTarget(p), details: { fields: Object.keys(changes) } }),
      { type: 'routing_policy', id: ref },
    );
    return { data: policy, text: `Updated routing policy ${policy.name}.\n${policyText(policy)}` };
  },
};

const remove: CommandSpec = {
  name: 'routing-policies delete',
  summary: 'Delete a routing policy: its people sign in with their Gatehouse password again.',
  args: [POLICY_ARG],
  async run(ctx) {
    const ref = ctx.arg(0);
    const policy = await ctx.change('routing_policy.delete', (d) => d.routingPolicies.remove(ref), (p) => ({ target: policyTarget(p) }), { type: 'routing_policy', id: ref });
    return { data: policy, text: `Deleted routing policy ${policy.name}.` };
  },
};

export const routingPoliciesGroup: CommandGroup = {
  name: 'routing-policies',
  summary: 'Decide who signs in at an identity provider: members of a policy’s groups, lowest priority first.',
  commands: [create, list, update, remove],
};
