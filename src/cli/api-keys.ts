import type { ApiKey } from '../directory/api-keys.ts';
import type { AuditTarget } from '../directory/audit.ts';
import { type CommandGroup, type CommandSpec, hint, parseDuration, table } from './command.ts';
import { displayedIssuer } from './issuer.ts';

const apiKeyTarget = (key: ApiKey): AuditTarget => ({ type: 'api_key', id: key.id, name: `${key.owner.username}/${key.name}` });

function status(key: ApiKey, now = Date.now()): string {
  if (key.revoked) return 'revoked';
  if (key.expires && Date.parse(key.expires) <= now) return 'expired';
  return 'active';
}

const create: CommandSpec = {
  name: 'api-keys create',
  summary: 'Create an API key for an administrator; prints the key, once.',
  options: {
    owner: { type: 'string', required: true, value: 'USER', description: 'The administrator the key acts as (id, username or email); it has their role.' },
    name: { type: 'string', required: true, value: 'NAME', description: 'What the key is for, e.g. terraform.' },
    'read-only': { type: 'boolean', description: 'The key may only read, whatever the owner’s role (always so for a read_only owner).' },
    scim: { type: 'boolean', description: 'A key for a SCIM provisioning client (Entra ID, Okta…): it works only under <issuer>/scim/v2, never on /api.' },
    'expires-in': { type: 'string', value: 'DURATION', description: 'Stop working after 90d, 12h, 30m, 3600s… (default: never).' },
  },
  notes: 'Use the key as "x-api-key: KEY" or "Authorization: Bearer KEY" on /api (documented at /api/docs); a --scim key as the secret token of a SCIM client, with the tenant URL <issuer>/scim/v2.',
  async run(ctx) {
    const seconds = parseDuration(ctx, 'expires-in');
    if (seconds === 0) throw ctx.usage('--expires-in must be more than 0');
    const ownerRef = ctx.need('owner');
    const name = ctx.need('name');
    if (ctx.flag('read-only') && ctx.flag('scim')) throw ctx.usage('--read-only and --scim do not go together');
    const scope = ctx.flag('scim') ? ('scim' as const) : ctx.flag('read-only') ? ('read_only' as const) : undefined;
    const expires = seconds === undefined ? null : new Date(Date.now() + seconds * 1000).toISOString();
    // Loaded on use, like the rest of storage: help and usage errors stay quick.
    const { issueApiKey } = await import('../directory/api-keys.ts');
    const { apiKey, key } = await ctx.change(
      'api_key.create',
      (d) => issueApiKey(d, { owner: ownerRef, name, scope, expires }),
      (created) => ({ target: apiKeyTarget(created.apiKey), details: { owner: created.apiKey.owner.username, scope: created.apiKey.scope, expires: created.apiKey.expires } }),
      { type: 'api_key', name: `${ownerRef}/${name}` },
    );
    // The issuer the server runs with (it records it), not this shell's default.
    const issuer = scope === 'scim' ? (await displayedIssuer(ctx)).replace(/\/$/, '') : '';
    const text = [
      `Created API key "${apiKey.name}" (id ${apiKey.id}) for ${apiKey.owner.username}: scope ${apiKey.scope}, ${apiKey.expires ? `expires ${apiKey.expires}` : 'never expires'}.`,
      `key  ${key}`,
      ...(scope === 'scim' ? [`SCIM base URL  ${issuer}/scim/v2`] : []),
      scope === 'scim'
        ? 'The key will not be shown again: store it now. Give your provisioning client the SCIM base URL as its tenant URL and the key as its secret token.'
        : 'The key will not be shown again: store it now. Send it as "x-api-key: KEY" or "Authorization: Bearer KEY".',
    ].join('\n');
    return { data: { api_key: apiKey, key, ...(scope === 'scim' ? { scim_base_url: `${issuer}/scim/v2` } : {}) }, text };
  },
};

const list: CommandSpec = {
  name: 'api-keys list',
  summary: 'List API keys (never the keys themselves), newest first.',
  options: { owner: { type: 'string', value: 'USER', description: "Only this administrator's keys." } },
  async run(ctx) {
    const keys = await (await ctx.runtime()).directory.apiKeys.list({ owner: ctx.string('owner') });
    const text = keys.length
      ? table(
          ['NAME', 'OWNER', 'SCOPE', 'PREFIX', 'STATUS', 'EXPIRES', 'LAST USED', 'CREATED', 'ID'],
          keys.map((k) => [k.name, k.owner.username, k.scope, `${k.prefix}…`, status(k), k.expires ?? 'never', k.last_used ?? '-', k.created, k.id]),
        )
      : `No API keys. Create one with: ${hint(ctx, 'api-keys create --owner USER --name NAME')}`;
    return { data: keys, text };
  },
};

const revoke: CommandSpec = {
  name: 'api-keys revoke',
  summary: 'Revoke an API key: it stops working at once.',
  args: [{ name: 'ID', description: 'The key’s id (see api-keys list).' }],
  async run(ctx) {
    const id = ctx.arg(0);
    const key = await ctx.change('api_key.revoke', (d) => d.apiKeys.revoke(id), (k) => ({ target: apiKeyTarget(k), details: { owner: k.owner.username } }), { type: 'api_key', id });
    return { data: key, text: `Revoked API key "${key.name}" of ${key.owner.username} (id ${key.id}).` };
  },
};

export const apiKeysGroup: CommandGroup = {
  name: 'api-keys',
  summary: 'Manage the API keys administrators use with the directory API (/api).',
  commands: [create, list, revoke],
};
