import type { SigningKeyInfo } from '../oidc/keys.ts';
import { type CommandGroup, type CommandSpec, table } from './command.ts';

const keyTable = (keys: readonly SigningKeyInfo[]): string =>
  table(
    ['STATE', 'KID', 'ALG', 'CREATED', 'RETIRES'],
    keys.map((k) => [k.state, k.kid, k.alg, k.created, k.retire_at ?? '-']),
  );

const list: CommandSpec = {
  name: 'keys list',
  summary: 'List the signing keys: current signs, next is published ahead of use, previous until its tokens expire.',
  async run(ctx) {
    const keys = await (await ctx.runtime()).keys.list();
    return { data: keys, text: keyTable(keys) };
  },
};

const rotate: CommandSpec = {
  name: 'keys rotate',
  summary: 'Promote the next key to current, retire the current one, and publish a fresh next key.',
  notes: 'Relying parties have already fetched the next key, so tokens signed after the rotation verify at once.',
  async run(ctx) {
    const keys = await (await ctx.runtime()).keys.rotate();
    const current = keys.find((k) => k.state === 'current');
    return { data: keys, text: `Rotated: ${current?.kid ?? '?'} now signs.\n${keyTable(keys)}` };
  },
};

export const keysGroup: CommandGroup = {
  name: 'keys',
  summary: 'Manage the keys that sign ID tokens.',
  commands: [list, rotate],
};
