import { recordOutcome } from '../directory/audit.ts';
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
    const runtime = await ctx.runtime();
    // Rotation takes its own lock, so it is recorded right after it, not in its transaction.
    const keys = await recordOutcome(
      runtime.directory.audit,
      ctx.actor,
      'keys.rotate',
      () => runtime.keys.rotate(),
      (rotated) => {
        const kid = (state: SigningKeyInfo['state']) => rotated.find((k) => k.state === state)?.kid ?? null;
        return { target: { type: 'signing_key', id: kid('current') ?? undefined }, details: { current: kid('current'), next: kid('next') } };
      },
      { type: 'signing_key' },
    );
    const current = keys.find((k) => k.state === 'current');
    return { data: keys, text: `Rotated: ${current?.kid ?? '?'} now signs.\n${keyTable(keys)}` };
  },
};

export const keysGroup: CommandGroup = {
  name: 'keys',
  summary: 'Manage the keys that sign ID tokens.',
  commands: [list, rotate],
};
