import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { type App, type AppIcon, type AppInput, type AttributeMapping, AUTH_METHODS, MAPPABLE_FIELDS, type MappableField, OPTIONAL_SCOPES, type OptionalScope, plainHttpRedirectUris } from '../directory/apps.ts';
import { displayedIssuer } from './issuer.ts';
import { APP_ARG, CliFailure, type CommandGroup, type CommandSpec, type Context, GROUP_ARG, type OptionSpec, type Output, appTarget, fields, formatDuration, hint, parseDuration, table } from './command.ts';

/**
 * `--map CLAIM=FIELD`: a user field, or `attributes.NAME` for a custom attribute. Anything else is
 * passed on as a field so that the store refuses it with the list of fields it knows.
 */
function mappings(ctx: Context): AttributeMapping[] {
  const fromFields = ctx.pairs('map').map(([claim, source]): AttributeMapping => {
    if (source.startsWith('attributes.')) return { claim, source: 'attribute', attribute: source.slice('attributes.'.length) };
    return { claim, source: 'field', field: source as MappableField };
  });
  const constants = ctx.pairs('map-constant').map(([claim, value]): AttributeMapping => ({ claim, source: 'constant', value }));
  return [...fromFields, ...constants];
}

function readIcon(ctx: Context): AppIcon | undefined {
  const file = ctx.string('icon');
  if (file === undefined) return undefined;
  const ext = extname(file).toLowerCase();
  const mediaType = ext === '.png' ? 'image/png' : ext === '.svg' ? 'image/svg+xml' : undefined;
  if (!mediaType) throw ctx.usage(`--icon takes a .png or .svg file (got "${file}")`);
  try {
    return { mediaType, base64: readFileSync(file).toString('base64') };
  } catch (error) {
    throw new CliFailure(`Cannot read the icon file "${file}" (${(error as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
}

/**
 * Whether any of the options that set a value was given ('given'), or `clear` ('cleared'), or neither.
 * Both at once contradict each other. A command without `clear` (apps create) never sees it set.
 */
function givenOrCleared(ctx: Context, setters: readonly string[], clear: string): 'given' | 'cleared' | undefined {
  const given = setters.find((name) => ctx.flag(name) || ctx.strings(name).length > 0);
  if (!ctx.flag(clear)) return given === undefined ? undefined : 'given';
  if (given !== undefined) throw ctx.usage(`--${given} and --${clear} contradict each other`);
  return 'cleared';
}

/** `--NAME` / `--no-NAME`: true, false, or undefined (the default, or the current value, applies) when neither is given. */
function onOff(ctx: Context, name: string): boolean | undefined {
  const state = givenOrCleared(ctx, [name], `no-${name}`);
  return state === undefined ? undefined : state === 'given';
}

function scopes(ctx: Context): OptionalScope[] {
  return ctx.strings('scope').map((scope) => {
    if (!(OPTIONAL_SCOPES as readonly string[]).includes(scope)) {
      throw ctx.usage(`--scope must be one of ${OPTIONAL_SCOPES.join(', ')} (got "${scope}"; openid is always on)`);
    }
    return scope as OptionalScope;
  });
}

/**
 * The app settings given on the command line, as the store takes them: only those given, so that
 * `apps update` changes nothing else and `apps create` leaves the rest to the store's defaults.
 * A repeatable option replaces its whole list; update's --no-… options clear a value or a list.
 */
function appSettings(ctx: Context): Partial<AppInput> {
  const state = (clear: string, ...setters: string[]) => givenOrCleared(ctx, setters, `no-${clear}`);
  const valueOr = <T, C>(clear: string, cleared: C, read: () => T): T | C | undefined => {
    const given = state(clear, clear);
    return given === 'cleared' ? cleared : given === 'given' ? read() : undefined;
  };
  const mapping = state('map', 'map', 'map-constant');
  const settings: { [K in keyof AppInput]?: AppInput[K] | undefined } = {
    label: ctx.string('label'),
    description: ctx.string('description'),
    redirect_uris: ctx.strings('redirect-uri').length ? ctx.strings('redirect-uri') : undefined,
    post_logout_redirect_uris: valueOr('post-logout-redirect-uri', [], () => ctx.strings('post-logout-redirect-uri')),
    login_url: valueOr('login-url', null, () => ctx.string('login-url')),
    show_in_portal: onOff(ctx, 'show-in-portal'),
    send_iss_on_launch: onOff(ctx, 'send-iss'),
    auth_method: ctx.choice('auth-method', AUTH_METHODS),
    refresh_token: onOff(ctx, 'refresh-token'),
    refresh_token_ttl: parseDuration(ctx, 'refresh-token-ttl'),
    refresh_token_reuse_interval: parseDuration(ctx, 'refresh-token-reuse-interval'),
    scopes: valueOr('scope', [], () => scopes(ctx)),
    attribute_mapping: mapping === 'cleared' ? [] : mapping === 'given' ? mappings(ctx) : undefined,
    groups_claim: valueOr('groups-claim', null, () => ctx.string('groups-claim')),
    // Last: the file is read only once everything else on the command line is known to be usable.
    icon: valueOr('icon', null, () => readIcon(ctx)),
  };
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as Partial<AppInput>;
}

const discoveryUrl = (issuer: string): string => `${issuer}/.well-known/openid-configuration`;

function describeMapping(m: AttributeMapping): string {
  if (m.source === 'field') return `${m.claim} <- ${m.field}`;
  if (m.source === 'attribute') return `${m.claim} <- attributes.${m.attribute}`;
  return `${m.claim} = ${JSON.stringify(m.value)}`;
}

function appFields(app: App, groups: readonly { name: string }[], issuer: string): string {
  return fields([
    ['id', app.id],
    ['label', app.label],
    ['description', app.description],
    ['status', app.active ? 'active' : 'inactive'],
    ['client_id', app.client_id],
    ['client secret', app.auth_method === 'none' ? 'none (public client)' : app.has_client_secret ? 'set (shown only once; see apps regenerate-secret)' : 'not set (see apps regenerate-secret)'],
    ['auth method', app.auth_method],
    ['redirect URIs', app.redirect_uris],
    ['post-logout URIs', app.post_logout_redirect_uris],
    ['login URL', app.login_url ?? ''],
    ['user portal', !app.show_in_portal ? 'hidden' : app.login_url ? 'shown' : 'shown once a login URL is set'],
    ['launch sends iss', app.send_iss_on_launch ? 'yes' : 'no'],
    ['scopes', ['openid', ...app.scopes].join(' ')],
    ['refresh tokens', app.refresh_token ? `yes (lifetime ${formatDuration(app.refresh_token_ttl)})` : 'no'],
    ['refresh reuse', !app.refresh_token ? '' : app.refresh_token_reuse_interval > 0 ? `within ${app.refresh_token_reuse_interval}s of a rotation` : 'none (reuse revokes the grant)'],
    ['claims', app.attribute_mapping.map(describeMapping)],
    ['groups claim', app.groups_claim ?? ''],
    ['groups', groups.map((g) => g.name)],
    ['icon', app.icon ? `${app.icon.mediaType}, ${Buffer.from(app.icon.base64, 'base64').length} bytes` : ''],
    ['issuer', issuer],
    ['discovery', discoveryUrl(issuer)],
    ['created', app.created],
    ['updated', app.updated],
  ]);
}

/** Allowed, so only a warning, on stderr so that --json output stays clean. */
function warnAboutPlainHttp(ctx: Context, app: App): void {
  for (const uri of plainHttpRedirectUris(app.redirect_uris)) {
    ctx.io.stderr.write(`gatehouse: warning: redirect URI ${uri} is plain http to a host other than this machine: codes and tokens would cross the network unencrypted (use https)\n`);
  }
}

/** The one place a client secret is ever printed. */
function secretOutput(headline: string, app: App, clientSecret: string | null, issuer: string, footer?: string): Output {
  const lines = [headline, fields([['client_id', app.client_id], ['client_secret', clientSecret ?? 'none (public client: auth method none)'], ['discovery', discoveryUrl(issuer)]])];
  if (clientSecret) lines.push('The client secret will not be shown again: store it now.');
  if (footer) lines.push(footer);
  return { data: { app, client_id: app.client_id, client_secret: clientSecret }, text: lines.join('\n') };
}

/** The settings apps create and apps update share (appSettings reads them); create requires --label and --redirect-uri. */
const SETTINGS: Readonly<Record<string, OptionSpec>> = {
  label: { type: 'string', value: 'LABEL', description: 'Display label.' },
  'redirect-uri': { type: 'string', multiple: true, value: 'URI', description: 'Absolute redirect URI, without fragment.' },
  'login-url': { type: 'string', value: 'URL', description: "Where the app's own sign-in starts (for the app launcher)." },
  'auth-method': { type: 'string', value: 'METHOD', description: 'Client authentication at the token endpoint: client_secret_basic (default), client_secret_post, or none for a public client.' },
  'refresh-token': { type: 'boolean', description: 'Allow the refresh_token grant.' },
  'refresh-token-ttl': { type: 'string', value: 'DURATION', description: 'Refresh-token lifetime: 30d, 12h, 90m, 3600s or 3600 (default 30d).' },
  'refresh-token-reuse-interval': {
    type: 'string',
    value: 'DURATION',
    description: 'Within this time (0s-60s, default 0s) the refresh token just rotated may be presented again for the same new tokens (two tabs, a retry); 0s: any reuse revokes the grant.',
  },
  scope: { type: 'string', multiple: true, value: OPTIONAL_SCOPES.join('|'), description: 'An optional scope the app may ask for (openid is always on).' },
  map: { type: 'string', multiple: true, value: 'CLAIM=FIELD', description: `Put a user field in a claim: ${MAPPABLE_FIELDS.join(', ')} or attributes.NAME.` },
  'map-constant': { type: 'string', multiple: true, value: 'CLAIM=VALUE', description: 'Put a fixed value in a claim.' },
  'groups-claim': { type: 'string', value: 'NAME', description: "Claim listing the user's groups bound to the app." },
  'post-logout-redirect-uri': { type: 'string', multiple: true, value: 'URI', description: 'Where the app may send people after sign-out.' },
  description: { type: 'string', value: 'TEXT', description: 'Shown on the app’s tile in the user portal (at most 500 characters, one line).' },
  'show-in-portal': { type: 'boolean', description: 'Show the app’s tile in the user portal once it has a login URL (the default).' },
  'no-show-in-portal': { type: 'boolean', description: 'Keep the app out of the user portal.' },
  'send-iss': { type: 'boolean', description: 'Append iss=<issuer> to the login URL when launched from the portal (the default).' },
  'no-send-iss': { type: 'boolean', description: 'Open the login URL from the portal without iss.' },
  icon: { type: 'string', value: 'FILE.png|FILE.svg', description: 'Icon image (at most 256 KiB).' },
};

const create: CommandSpec = {
  name: 'apps create',
  summary: 'Register an OpenID Connect app; prints its client_id and, once, its client secret.',
  configFlags: ['issuer'],
  options: {
    ...SETTINGS,
    label: { ...(SETTINGS['label'] as OptionSpec), required: true },
    'redirect-uri': { ...(SETTINGS['redirect-uri'] as OptionSpec), required: true },
  },
  notes: [
    'Nobody can use the app until a group is bound to it: gatehouse apps bind APP GROUP',
    'Redirect URIs are matched exactly (no * wildcards); plain http:// to a host other than this machine draws a warning.',
    'The discovery URL printed uses the issuer the server last ran with (gatehouse serve records it), unless --issuer or GATEHOUSE_ISSUER is given.',
  ].join('\n'),
  async run(ctx) {
    const input: AppInput = { ...appSettings(ctx), label: ctx.need('label'), redirect_uris: ctx.strings('redirect-uri') };
    const issuer = await displayedIssuer(ctx);
    const { app, clientSecret } = await ctx.change('app.create', (d) => d.apps.create(input), ({ app: a }) => ({ target: appTarget(a), details: { auth_method: a.auth_method } }), {
      type: 'app',
      name: input.label,
    });
    warnAboutPlainHttp(ctx, app);
    const footer = `Nobody can sign in to it until a group is bound to it: ${hint(ctx, `apps bind ${app.client_id} GROUP`)}`;
    return secretOutput(`Created app "${app.label}" (id ${app.id}).`, app, clientSecret, issuer, footer);
  },
};

/** Update's own wording where create's mentions create's defaults for the portal tile. */
const UPDATE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  'show-in-portal': 'Show the app’s tile in the user portal (it needs a login URL to show).',
  'no-show-in-portal': 'Keep the app out of the user portal.',
};

/** Update's options that clear a setting (appSettings reads them), each listed after the option it undoes. */
const CLEARING: Readonly<Record<string, readonly [name: string, description: string]>> = {
  'login-url': ['no-login-url', 'Remove the login URL (the app then has no tile in the user portal).'],
  'refresh-token': ['no-refresh-token', 'Disallow the refresh_token grant.'],
  scope: ['no-scope', 'Allow no optional scope (openid only).'],
  'map-constant': ['no-map', 'Remove every claim mapping (--map and --map-constant).'],
  'groups-claim': ['no-groups-claim', 'Send no groups claim.'],
  'post-logout-redirect-uri': ['no-post-logout-redirect-uri', 'Remove every post-logout redirect URI.'],
  icon: ['no-icon', 'Remove the icon.'],
};

const update: CommandSpec = {
  name: 'apps update',
  summary: 'Change an app: only the options given; prints the app as apps show does.',
  args: [APP_ARG],
  configFlags: ['issuer'],
  options: Object.fromEntries(
    Object.entries(SETTINGS).flatMap(([name, spec]) => {
      const own: OptionSpec = { ...spec, description: UPDATE_DESCRIPTIONS[name] ?? spec.description };
      const clearing = CLEARING[name];
      return clearing ? [[name, own], [clearing[0], { type: 'boolean', description: clearing[1] }]] : [[name, own]];
    }),
  ),
  notes: [
    'A repeatable option replaces its whole list: give every redirect URI (or scope, or post-logout redirect URI) the app keeps. --map and --map-constant together replace all claim mappings.',
    'An empty --description "" clears the description.',
    'Switching to --auth-method none drops the client secret; switching back needs a new one: gatehouse apps regenerate-secret APP',
    'Status and groups change with apps activate|deactivate and apps bind|unbind.',
  ].join('\n'),
  async run(ctx) {
    const ref = ctx.arg(0);
    const changes = appSettings(ctx);
    const changed = Object.keys(changes);
    if (changed.length === 0) throw ctx.usage('nothing to change: give at least one option');
    const issuer = await displayedIssuer(ctx);
    const { app, groups } = await ctx.change(
      'app.update',
      async (d) => {
        const app = await d.apps.update(ref, changes);
        return { app, groups: await d.apps.boundGroups(app.id) };
      },
      (r) => ({ target: appTarget(r.app), details: { fields: changed } }),
      { type: 'app', id: ref },
    );
    if (changes.redirect_uris) warnAboutPlainHttp(ctx, app);
    const notes: string[] = [];
    if (app.auth_method !== 'none' && !app.has_client_secret) {
      notes.push(`It has no client secret, so it cannot sign anyone in until it gets one: ${hint(ctx, `apps regenerate-secret ${app.client_id}`)}`);
    }
    if (changes.login_url && !app.show_in_portal && changes.show_in_portal === undefined) {
      notes.push(`It stays out of the user portal; to show its tile: ${hint(ctx, `apps update ${app.client_id} --show-in-portal`)}`);
    }
    return {
      data: { ...app, groups, issuer, discovery_url: discoveryUrl(issuer) },
      text: [`Updated app "${app.label}" (id ${app.id}): ${changed.join(', ')}.`, appFields(app, groups, issuer), ...notes].join('\n'),
    };
  },
};

const list: CommandSpec = {
  name: 'apps list',
  summary: 'List apps.',
  async run(ctx) {
    const { apps } = (await ctx.runtime()).directory;
    const all = await Promise.all((await apps.list()).map(async (app) => ({ ...app, groups: await apps.boundGroups(app.id) })));
    const text = all.length
      ? table(
          ['LABEL', 'CLIENT ID', 'AUTH METHOD', 'STATUS', 'GROUPS', 'ID'],
          all.map((a) => [a.label, a.client_id, a.auth_method, a.active ? 'active' : 'inactive', a.groups.map((g) => g.name).join(', ') || '-', a.id]),
        )
      : 'No apps yet. Register one with: gatehouse apps create --label LABEL --redirect-uri URI';
    return { data: all, text };
  },
};

const show: CommandSpec = {
  name: 'apps show',
  summary: 'Show an app, its bound groups and the issuer it trusts.',
  args: [APP_ARG],
  configFlags: ['issuer'],
  async run(ctx) {
    const { directory } = await ctx.runtime();
    const issuer = await displayedIssuer(ctx);
    const app = await directory.apps.get(ctx.arg(0));
    const groups = await directory.apps.boundGroups(app.id);
    return {
      data: { ...app, groups, issuer, discovery_url: discoveryUrl(issuer) },
      text: appFields(app, groups, issuer),
    };
  },
};

const regenerateSecret: CommandSpec = {
  name: 'apps regenerate-secret',
  summary: 'Replace the client secret (the old one stops working at once); prints the new one once.',
  args: [APP_ARG],
  configFlags: ['issuer'],
  async run(ctx) {
    const issuer = await displayedIssuer(ctx);
    const ref = ctx.arg(0);
    const { app, clientSecret } = await ctx.change('app.regenerate_secret', (d) => d.apps.regenerateSecret(ref), ({ app: a }) => ({ target: appTarget(a) }), { type: 'app', id: ref });
    return secretOutput(`New client secret for "${app.label}"; the previous one no longer works.`, app, clientSecret, issuer);
  },
};

function binding(verb: 'bind' | 'unbind'): CommandSpec {
  return {
    name: `apps ${verb}`,
    summary: verb === 'bind' ? "Grant a group's members access to an app." : "Withdraw a group's access to an app.",
    args: [APP_ARG, GROUP_ARG],
    async run(ctx) {
      const appRef = ctx.arg(0);
      const groupRef = ctx.arg(1);
      const { app, group, bound } = await ctx.change(
        `app.${verb}`,
        async (d) => {
          await d.apps[verb](appRef, groupRef);
          const [app, group] = [await d.apps.get(appRef), await d.groups.get(groupRef)];
          return { app, group, bound: await d.apps.boundGroups(app.id) };
        },
        (r) => ({ target: appTarget(r.app), details: { group: { id: r.group.id, name: r.group.name } } }),
        { type: 'app', id: appRef },
      );
      const text = verb === 'bind' ? `Bound group ${group.name} to "${app.label}".` : `Unbound group ${group.name} from "${app.label}".`;
      return { data: { app, groups: bound }, text: `${text} Groups with access: ${bound.map((g) => g.name).join(', ') || 'none'}.` };
    },
  };
}

function appAction(name: 'activate' | 'deactivate' | 'delete', summary: string, verb: string): CommandSpec {
  return {
    name: `apps ${name}`,
    summary,
    args: [APP_ARG],
    async run(ctx) {
      const ref = ctx.arg(0);
      const app = await ctx.change(`app.${name}`, (d) => d.apps[name](ref), (a) => ({ target: appTarget(a) }), { type: 'app', id: ref });
      return { data: app, text: `${verb} app "${app.label}" (client_id ${app.client_id}).` };
    },
  };
}

export const appsGroup: CommandGroup = {
  name: 'apps',
  summary: 'Manage the OpenID Connect apps (relying parties) people sign in to.',
  commands: [
    create,
    list,
    show,
    update,
    regenerateSecret,
    binding('bind'),
    binding('unbind'),
    appAction('deactivate', 'Deactivate an app: nobody can sign in to it and its tokens stop working.', 'Deactivated'),
    appAction('activate', 'Activate an app again.', 'Activated'),
    appAction('delete', "Delete an app with its bindings and tokens.", 'Deleted'),
  ],
};
