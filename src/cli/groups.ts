import { GROUP_ARG, USER_ARG, type CommandGroup, type CommandSpec, table } from './command.ts';

const create: CommandSpec = {
  name: 'groups create',
  summary: 'Create a group.',
  args: [{ name: 'NAME', description: 'Group name (unique, case-insensitive).' }],
  options: { description: { type: 'string', value: 'TEXT', description: 'What the group is for.' } },
  async run(ctx) {
    const group = await (await ctx.runtime()).directory.groups.create(ctx.arg(0), ctx.string('description'));
    return { data: group, text: `Created group ${group.name} (id ${group.id}).` };
  },
};

const list: CommandSpec = {
  name: 'groups list',
  summary: 'List groups with their member counts.',
  async run(ctx) {
    const { groups } = (await ctx.runtime()).directory;
    const all = await groups.list();
    const rows = await Promise.all(all.map(async (g) => ({ ...g, member_count: (await groups.memberIds(g.id)).length })));
    return {
      data: rows,
      text: table(
        ['NAME', 'MEMBERS', 'ID', 'DESCRIPTION'],
        rows.map((g) => [g.name, String(g.member_count), g.id, g.builtin ? `${g.description} (built in)`.trim() : g.description]),
      ),
    };
  },
};

const addMember: CommandSpec = {
  name: 'groups add-member',
  summary: 'Add a user to a group.',
  args: [GROUP_ARG, USER_ARG],
  async run(ctx) {
    const { groups, users } = (await ctx.runtime()).directory;
    await groups.addMember(ctx.arg(0), ctx.arg(1));
    const [group, user] = await Promise.all([groups.get(ctx.arg(0)), users.get(ctx.arg(1))]);
    return { data: { group, user }, text: `Added ${user.username} to ${group.name}.` };
  },
};

const removeMember: CommandSpec = {
  name: 'groups remove-member',
  summary: 'Remove a user from a group.',
  args: [GROUP_ARG, USER_ARG],
  async run(ctx) {
    const { groups, users } = (await ctx.runtime()).directory;
    await groups.removeMember(ctx.arg(0), ctx.arg(1));
    const [group, user] = await Promise.all([groups.get(ctx.arg(0)), users.get(ctx.arg(1))]);
    return { data: { group, user }, text: `Removed ${user.username} from ${group.name}.` };
  },
};

const remove: CommandSpec = {
  name: 'groups delete',
  summary: 'Delete a group (its memberships and app bindings go with it).',
  args: [GROUP_ARG],
  async run(ctx) {
    const group = await (await ctx.runtime()).directory.groups.delete(ctx.arg(0));
    return { data: group, text: `Deleted group ${group.name}.` };
  },
};

export const groupsGroup: CommandGroup = {
  name: 'groups',
  summary: 'Manage groups of users; binding a group to an app grants its members access.',
  commands: [create, list, addMember, removeMember, remove],
};
