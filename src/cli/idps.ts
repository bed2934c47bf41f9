import {
  FEDERATION_CALLBACK_PATH,
  FIRST_LOGIN_MODES,
  IDENTITY_PROVIDER_TYPES,
  type IdentityProvider,
  type IdentityProviderChanges,
  type IdentityProviderTestResult,
  UPSTREAM_CLIENT_AUTH_METHODS,
} from '../federation/types.ts';
import { CliFailure, type CommandGroup, type CommandSpec, type Context, type OptionSpec, fields, hint, table, yesNo } from './command.ts';
import { displayedIssuer } from './issuer.ts';

const IDP_ARG = { name: 'IDP', description: 'The identity provider: id or name.' };

const providerTarget = (provider: IdentityProvider) => ({ type: 'identity_provider', id: provider.id, name: provider.name });

/** Options create and update share; lists are comma-separated, and an empty value clears one. */
const SETTINGS: Readonly<Record<string, OptionSpec>> = {
  url: { type: 'string', value: 'URL', description: 'entra: the Entra IdP URL, https://login.microsoftonline.com/<tenant id or domain>.' },
  // Not --issuer: that is Gatehouse's own public URL, as for every command.
  'issuer-url': { type: 'string', value: 'URL', description: 'oidc: the provider’s issuer URL (discovery at <issuer>/.well-known/openid-configuration).' },
  'client-id': { type: 'string', value: 'ID', description: 'The client (application) ID registered at the provider.' },
  'client-secret-stdin': { type: 'boolean', description: 'Read the client secret from stdin (one trailing newline is dropped); it is stored encrypted and never shown.' },
  'client-auth': { type: 'string', value: 'METHOD', description: `${UPSTREAM_CLIENT_AUTH_METHODS.join('|')} (default client_secret_post for entra, client_secret_basic for oidc).` },
  scopes: { type: 'string', value: 'SCOPES', description: 'Space-separated, including openid (default "openid email profile").' },
  'first-login': { type: 'string', value: 'MODE', description: `${FIRST_LOGIN_MODES.join('|')}: on a first sign-in, link to the user with that verified email, or also create one (default link_existing).` },
  'jit-groups': { type: 'string', value: 'GROUPS', description: 'Comma-separated groups (ids or names) users created on first sign-in join.' },
  'allowed-tenants': { type: 'string', value: 'TENANTS', description: 'entra with common or organizations: comma-separated tenant ids allowed to sign in.' },
  'verified-domains': { type: 'string', value: 'DOMAINS', description: 'entra: comma-separated email domains taken as verified.' },
  'home-realm-domains': { type: 'string', value: 'DOMAINS', description: 'Comma-separated domain rules: people typing an email in one of them sign in at this provider.' },
};

const list = (value: string | undefined): string[] | undefined =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);

/** The settings given on the command line, as the store takes them; the secret from stdin. */
async function settingsFrom(ctx: Context): Promise<IdentityProviderChanges> {
  const changes: Record<string, unknown> = {
    url: ctx.string('url'),
    issuer: ctx.string('issuer-url'),
    client_id: ctx.string('client-id'),
    client_auth: ctx.choice('client-auth', UPSTREAM_CLIENT_AUTH_METHODS),
    scopes: ctx.string('scopes'),
    first_login: ctx.choice('first-login', FIRST_LOGIN_MODES),
    jit_groups: list(ctx.string('jit-groups')),
    allowed_tenants: list(ctx.string('allowed-tenants')),
    verified_domains: list(ctx.string('verified-domains')),
    home_realm_domains: list(ctx.string('home-realm-domains')),
  };
  if (ctx.flag('client-secret-stdin')) {
    const secret = await ctx.readStdin();
    if (!secret.trim()) throw ctx.usage('the client secret read from stdin is empty');
    changes.client_secret = secret;
  }
  return Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as IdentityProviderChanges;
}

const callbackUrlOf = async (ctx: Context) => `${await displayedIssuer(ctx)}${FEDERATION_CALLBACK_PATH}`;

function providerFields(provider: IdentityProvider, callbackUrl: string): string {
  return fields([
    ['id', provider.id],
    ['name', provider.name],
    ['type', provider.type],
    ['enabled', yesNo(provider.enabled)],
    ...(provider.type === 'entra' ? [['url', provider.url ?? ''] as const] : []),
    ['issuer', provider.issuer ?? (provider.allowed_tenants.length ? 'per tenant (the token’s tenant, one of the allowed tenants)' : 'the tenant’s, found by discovery')],
    ...(provider.type === 'entra' ? [['allowed tenants', provider.allowed_tenants] as const, ['verified domains', provider.verified_domains] as const] : []),
    ['domain rules', provider.home_realm_domains],
    ['client id', provider.client_id],
    ['client secret', provider.has_client_secret ? 'set (never shown)' : 'not set'],
    ['client auth', provider.client_auth],
    ['scopes', provider.scopes],
    ['first login', provider.first_login],
    ['jit groups', provider.jit_groups],
    ['callback url', callbackUrl],
    ['created', provider.created],
    ['updated', provider.updated],
  ]);
}

const pasteHint = (provider: IdentityProvider, callbackUrl: string) =>
  `Register this redirect URI (${provider.type === 'entra' ? 'Entra: App registrations > Authentication > Web' : 'at the provider'}): ${callbackUrl}`;

const create: CommandSpec = {
  name: 'idps create',
  summary: 'Add an identity provider (Microsoft Entra ID or any OpenID provider).',
  options: {
    name: { type: 'string', required: true, value: 'NAME', description: 'Unique name, shown to administrators and in ID tokens (idp claim).' },
    type: { type: 'string', required: true, value: 'TYPE', description: `${IDENTITY_PROVIDER_TYPES.join('|')}.` },
    ...SETTINGS,
    'client-id': { ...(SETTINGS['client-id'] as OptionSpec), required: true },
    disabled: { type: 'boolean', description: 'Create it disabled.' },
  },
  configFlags: ['issuer'],
  notes: [
    'The client secret is read from stdin (--client-secret-stdin, required): never pass it as an argument.',
    'Example (seed 004): printf %s "$SECRET" | gatehouse idps create --name "Entra ID" --type entra --url https://login.microsoftonline.com/<tenant> --client-id <app id> --client-secret-stdin',
    'Adding a provider changes nobody’s sign-in: send people to it with gatehouse routing-policies create, or a domain rule (--home-realm-domains).',
    'An oidc provider is given by --issuer-url (--issuer is Gatehouse’s own public URL, which the callback URL printed starts with).',
  ].join('\n'),
  async run(ctx) {
    const type = ctx.choice('type', IDENTITY_PROVIDER_TYPES) as (typeof IDENTITY_PROVIDER_TYPES)[number];
    if (!ctx.flag('client-secret-stdin')) throw ctx.usage('the client secret is required: pipe it in with --client-secret-stdin');
    const name = ctx.need('name');
    const settings = await settingsFrom(ctx);
    const input = { ...settings, name, type, enabled: !ctx.flag('disabled'), client_id: settings.client_id ?? '', client_secret: settings.client_secret ?? '' };
    const provider = await ctx.change(
      'identity_provider.create',
      (d) => d.identityProviders.create(input),
      (p) => ({ target: providerTarget(p), details: { type: p.type } }),
      { type: 'identity_provider', name },
    );
    const callbackUrl = await callbackUrlOf(ctx);
    return {
      data: { ...provider, callback_url: callbackUrl },
      text: [
        `Created identity provider ${provider.name} (id ${provider.id}).`,
        pasteHint(provider, callbackUrl),
        `Check it with: ${hint(ctx, `idps test ${JSON.stringify(provider.name)}`)}`,
      ].join('\n'),
    };
  },
};

const listCommand: CommandSpec = {
  name: 'idps list',
  summary: 'List identity providers.',
  async run(ctx) {
    const providers = await (await ctx.runtime()).directory.identityProviders.list();
    return {
      data: providers,
      text: providers.length
        ? table(
            ['NAME', 'TYPE', 'ENABLED', 'ISSUER', 'DOMAIN RULES', 'ID'],
            providers.map((p) => [p.name, p.type, yesNo(p.enabled), p.issuer ?? p.url ?? '', p.home_realm_domains.join(',') || '-', p.id]),
          )
        : `No identity providers yet. Add one with: ${hint(ctx, 'idps create --name NAME --type entra --url URL --client-id ID --client-secret-stdin')}`,
    };
  },
};

const show: CommandSpec = {
  name: 'idps show',
  summary: 'Show an identity provider and the callback URL to register at it.',
  args: [IDP_ARG],
  configFlags: ['issuer'],
  async run(ctx) {
    const provider = await (await ctx.runtime()).directory.identityProviders.get(ctx.arg(0));
    const callbackUrl = await callbackUrlOf(ctx);
    return { data: { ...provider, callback_url: callbackUrl }, text: providerFields(provider, callbackUrl) };
  },
};

const update: CommandSpec = {
  name: 'idps update',
  summary: 'Change an identity provider (only the options given; the type cannot change).',
  args: [IDP_ARG],
  options: {
    name: { type: 'string', value: 'NAME', description: 'A new name.' },
    ...SETTINGS,
    enable: { type: 'boolean', description: 'Enable it.' },
    disable: { type: 'boolean', description: 'Disable it: the people routed to it cannot sign in until it is enabled again.' },
  },
  configFlags: ['issuer'],
  notes: 'A new client secret is read from stdin with --client-secret-stdin. An empty list value (--home-realm-domains "") clears the list.',
  async run(ctx) {
    const ref = ctx.arg(0);
    if (ctx.flag('enable') && ctx.flag('disable')) throw ctx.usage('--enable and --disable cannot be given together');
    const changes: IdentityProviderChanges = { ...(await settingsFrom(ctx)) };
    const name = ctx.string('name');
    if (name !== undefined) changes.name = name;
    if (ctx.flag('enable') || ctx.flag('disable')) changes.enabled = ctx.flag('enable');
    if (Object.keys(changes).length === 0) throw ctx.usage('nothing to change: give at least one option');
    const provider = await ctx.change(
      'identity_provider.update',
      (d) => d.identityProviders.update(ref, changes),
      (p) => ({ target: providerTarget(p), details: { fields: Object.keys(changes) } }),
      { type: 'identity_provider', id: ref },
    );
    const callbackUrl = await callbackUrlOf(ctx);
    return { data: { ...provider, callback_url: callbackUrl }, text: `Updated identity provider ${provider.name}.` };
  },
};

function testText(result: IdentityProviderTestResult): string {
  return [
    result.ok ? 'Connection OK.' : 'Problems found:',
    ...result.problems.map((p) => `  - ${p}`),
    fields([
      ['discovery', result.discovery_url],
      ['issuer', result.issuer ?? '-'],
      ['authorization', result.authorization_endpoint ?? '-'],
      ['token', result.token_endpoint ?? '-'],
      ['jwks', result.jwks_uri ?? '-'],
      ['keys', String(result.keys)],
      ['callback url', result.callback_url],
    ]),
  ].join('\n');
}

const test: CommandSpec = {
  name: 'idps test',
  summary: 'Test an identity provider: fetch its discovery document and keys and check them against the configuration.',
  args: [IDP_ARG],
  configFlags: ['issuer'],
  notes: 'Exit status 1 when problems were found (the result is printed first).',
  async run(ctx) {
    const { directory } = await ctx.runtime();
    const config = await directory.identityProviders.upstream(ctx.arg(0));
    // Loaded here, so that the other commands don't load the OpenID client libraries.
    const { testIdentityProvider } = await import('../federation/upstream.ts');
    const result = await testIdentityProvider(config, { callbackUrl: await callbackUrlOf(ctx) });
    if (!result.ok) {
      ctx.io.stdout.write(`${ctx.json ? JSON.stringify(result, null, 2) : testText(result)}\n`);
      throw new CliFailure(`${config.provider.name}: the connection test found ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}`);
    }
    return { data: result, text: testText(result) };
  },
};

const remove: CommandSpec = {
  name: 'idps delete',
  summary: 'Delete an identity provider and its users’ links (refused while a routing policy uses it).',
  args: [IDP_ARG],
  async run(ctx) {
    const ref = ctx.arg(0);
    const provider = await ctx.change('identity_provider.delete', (d) => d.identityProviders.remove(ref), (p) => ({ target: providerTarget(p) }), { type: 'identity_provider', id: ref });
    return { data: provider, text: `Deleted identity provider ${provider.name}.` };
  },
};

export const idpsGroup: CommandGroup = {
  name: 'idps',
  summary: 'Manage identity providers people can sign in with (Microsoft Entra ID, any OpenID provider).',
  commands: [create, listCommand, show, update, test, remove],
};
