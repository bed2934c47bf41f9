import { userInfo } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import type { Config } from '../config/config.ts';
import type { Actor, AuditTarget } from '../directory/audit.ts';
import type { ChangeDescription, DirectoryStores } from '../directory/index.ts';
import type { Runtime } from '../runtime.ts';

/**
 * What every command group shares: the shape of a command, argument parsing and its accessors,
 * and the helpers that print aligned tables and field lists. main.ts dispatches; the group
 * modules (users.ts, groups.ts, apps.ts, keys.ts, api-keys.ts, audit.ts, serve.ts) only describe
 * and run commands. Every change a command makes goes through ctx.change, so it is in the audit log.
 */

export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
}

/** Bad command line: unknown command or option, missing argument, malformed value. Exit status 2. */
export class UsageError extends Error {
  readonly command: string | undefined;
  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** An expected failure found by the CLI itself (an unreadable file, say). Exit status 1. */
export class CliFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliFailure';
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** May be given several times; the values are collected in order. */
  multiple?: boolean;
  required?: boolean;
  /** Placeholder shown in help, e.g. URI. */
  value?: string;
  description: string;
}

export interface ArgSpec {
  name: string;
  description: string;
}

/** What a command hands back: `data` is printed as JSON with --json, `text` otherwise. */
export interface Output {
  data: unknown;
  text: string;
}

export interface CommandSpec {
  /** Words after `gatehouse`, e.g. "users create". */
  name: string;
  summary: string;
  /** Required positional arguments, in order. */
  args?: readonly ArgSpec[];
  options?: Readonly<Record<string, OptionSpec>>;
  /** Config options this command also accepts as flags (besides --data-dir). */
  configFlags?: readonly ('port' | 'host' | 'issuer')[];
  /** May create the data directory (serve, init); every other command refuses one that holds no Gatehouse database. */
  createsDataDir?: boolean;
  /** Extra help text printed after the options. */
  notes?: string;
  run(ctx: Context): Promise<Output | undefined>;
}

export interface CommandGroup {
  name: string;
  summary: string;
  commands: readonly CommandSpec[];
}

/** The references commands take: every store resolves them the same way. */
export const USER_ARG: ArgSpec = { name: 'USER', description: 'The user: id, username or email.' };
export const GROUP_ARG: ArgSpec = { name: 'GROUP', description: 'The group: id or name.' };
export const APP_ARG: ArgSpec = { name: 'APP', description: 'The app: id, client_id or label.' };

export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'data-dir': { type: 'string', value: 'DIR', description: 'Data directory (env GATEHOUSE_DATA_DIR, default ./data). GATEHOUSE_DATABASE_URL selects PostgreSQL.' },
  json: { type: 'boolean', description: 'Print a machine-readable JSON result on stdout.' },
  help: { type: 'boolean', description: 'Show this help.' },
};

const CONFIG_FLAG_OPTIONS: Readonly<Record<'port' | 'host' | 'issuer', OptionSpec>> = {
  port: { type: 'string', value: 'PORT', description: 'TCP port to listen on (env GATEHOUSE_PORT, default 9000).' },
  host: { type: 'string', value: 'HOST', description: 'Address to listen on (env GATEHOUSE_HOST, default 127.0.0.1).' },
  issuer: { type: 'string', value: 'URL', description: 'Public base URL, the OIDC issuer (env GATEHOUSE_ISSUER, default http://localhost:9000).' },
};

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Context {
  readonly command: CommandSpec;
  readonly positionals: readonly string[];
  readonly config: Config;
  readonly json: boolean;
  readonly io: CliIo;
  /** Whether --data-dir was given on the command line (hints then repeat it). */
  readonly dataDirFlag: string | undefined;
  /** Opens storage on first use; main.ts closes it when the command ends. */
  runtime(): Promise<Runtime>;
  arg(index: number): string;
  string(name: string): string | undefined;
  /** A required option (declared `required`, so presence was checked before the command ran). */
  need(name: string): string;
  strings(name: string): string[];
  flag(name: string): boolean;
  /** The value of a string option that must be one of `choices`, or undefined when absent. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined;
  /** NAME=VALUE pairs of a repeatable option, split at the first `=`. */
  pairs(name: string): [string, string][];
  /** The whole of stdin, less one trailing newline. */
  readStdin(): Promise<string>;
  usage(message: string): UsageError;
  /** Who the audit log names for this command's changes: the command line, as the system user. */
  readonly actor: Actor;
  /**
   * Makes a change through Directory.change, with the same action names as the API: the change and
   * its audit event are written in one transaction (a refusal is recorded as a failure).
   */
  change<T>(action: string, work: (directory: DirectoryStores) => Promise<T>, describe?: (result: T) => ChangeDescription, attempted?: AuditTarget): Promise<T>;
}

/** The command line as an audit actor, named after the system account that ran it. */
export function cliActor(env: NodeJS.ProcessEnv = process.env): Actor {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers).
    name = env['USER'] || env['LOGNAME'] || `uid ${process.getuid?.() ?? '?'}`;
  }
  return { type: 'cli', name };
}

/** How the audit log names a user, a group or an app. */
export const userTarget = (user: { id: string; username: string }): AuditTarget => ({ type: 'user', id: user.id, name: user.username });
export const groupTarget = (group: { id: string; name: string }): AuditTarget => ({ type: 'group', id: group.id, name: group.name });
export const appTarget = (app: { id: string; label: string }): AuditTarget => ({ type: 'app', id: app.id, name: app.label });

export function allOptions(command: CommandSpec): Record<string, OptionSpec> {
  const options: Record<string, OptionSpec> = { ...command.options };
  for (const key of command.configFlags ?? []) options[key] = CONFIG_FLAG_OPTIONS[key];
  return { ...options, ...COMMON_OPTIONS };
}

/** True when --help / -h appears among the options (before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const token of argv) {
    if (token === '--') return false;
    if (token === '--help' || token === '-h') return true;
  }
  return false;
}

export interface Parsed {
  values: Values;
  positionals: string[];
}

/** Strict parsing; Node's messages are rephrased as one short line naming the option. */
export function parseCommandLine(command: CommandSpec, argv: string[]): Parsed {
  const specs = allOptions(command);
  const config: ParseArgsOptionsConfig = {};
  for (const [name, spec] of Object.entries(specs)) {
    config[name] = spec.multiple ? { type: spec.type, multiple: true } : { type: spec.type };
  }
  config['help'] = { type: 'boolean', short: 'h' };
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: argv, options: config, strict: true, allowPositionals: true, allowNegative: false }) as Parsed;
  } catch (error) {
    throw new UsageError(describeParseError(error, specs), command.name);
  }
  const expected = command.args ?? [];
  if (parsed.positionals.length < expected.length) {
    const missing = expected.slice(parsed.positionals.length).map((a) => a.name);
    throw new UsageError(`missing argument${missing.length > 1 ? 's' : ''} ${missing.join(' ')}`, command.name);
  }
  if (parsed.positionals.length > expected.length) {
    throw new UsageError(`unexpected argument "${parsed.positionals[expected.length]}"`, command.name);
  }
  for (const [name, spec] of Object.entries(specs)) {
    const value = parsed.values[name];
    if (spec.required && (value === undefined || (Array.isArray(value) && value.length === 0))) {
      throw new UsageError(`missing required option --${name}`, command.name);
    }
  }
  return parsed;
}

function describeParseError(error: unknown, specs: Record<string, OptionSpec>): string {
  const e = error as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
  const option = quoted.split(' ')[0] ?? quoted;
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = option.replace(/^-+/, '').split('=')[0] ?? '';
      const spec = specs[name];
      if (spec?.type === 'boolean') return `--${name} takes no value`;
      return `--${name} needs a value${spec?.value ? ` (${spec.value})` : ''}`;
    }
    default:
      return oneLine(e.message ?? String(error));
  }
}

export function createContext(options: {
  command: CommandSpec;
  parsed: Parsed;
  config: Config;
  io: CliIo;
  runtime: () => Promise<Runtime>;
}): Context {
  const { command, parsed, config, io } = options;
  const values = parsed.values;
  const usage = (message: string) => new UsageError(message, command.name);
  const ctx: Context = {
    command,
    positionals: parsed.positionals,
    config,
    io,
    json: values['json'] === true,
    dataDirFlag: typeof values['data-dir'] === 'string' ? values['data-dir'] : undefined,
    runtime: options.runtime,
    usage,
    actor: cliActor(io.env),
    async change(action, work, describe, attempted) {
      const { directory } = await options.runtime();
      return directory.change(ctx.actor, action, work, describe, attempted);
    },
    arg(index) {
      const value = parsed.positionals[index];
      if (value === undefined) throw usage(`missing argument ${command.args?.[index]?.name ?? ''}`.trim());
      return value;
    },
    string(name) {
      const value = values[name];
      return typeof value === 'string' ? value : undefined;
    },
    need(name) {
      const value = ctx.string(name);
      if (value === undefined) throw usage(`missing required option --${name}`);
      return value;
    },
    strings(name) {
      const value = values[name];
      if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
      return typeof value === 'string' ? [value] : [];
    },
    flag(name) {
      return values[name] === true;
    },
    choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
      const value = ctx.string(name);
      if (value === undefined) return undefined;
      if (!(choices as readonly string[]).includes(value)) throw usage(`--${name} must be one of ${choices.join(', ')} (got "${value}")`);
      return value as T;
    },
    pairs(name) {
      const placeholder = allOptions(command)[name]?.value ?? 'NAME=VALUE';
      return ctx.strings(name).map((entry) => {
        const at = entry.indexOf('=');
        if (at <= 0) throw usage(`--${name} expects ${placeholder} (got "${entry}")`);
        return [entry.slice(0, at), entry.slice(at + 1)];
      });
    },
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      const text = Buffer.concat(chunks).toString('utf8');
      return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
    },
  };
  return ctx;
}

const UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400 };

/** 30d, 12h, 90m, 3600s or 3600 → seconds; undefined when absent. */
export function parseDuration(ctx: Context, name: string): number | undefined {
  const text = ctx.string(name);
  if (text === undefined) return undefined;
  const match = /^(\d+)\s*([smhd]?)$/.exec(text.trim());
  if (!match) throw ctx.usage(`--${name} expects a duration like 30d, 12h, 90m, 3600s or 3600 (got "${text}")`);
  return Number(match[1]) * (UNITS[match[2] ?? ''] ?? 1);
}

export function formatDuration(seconds: number): string {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

// ---- printing ---------------------------------------------------------------------------------

export const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();

/** Columns padded to their widest cell, two spaces apart; no trailing blanks. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `label  value` lines, labels aligned; a list value continues on indented lines; empty shows "-". */
export function fields(entries: readonly (readonly [string, string | readonly string[]])[]): string {
  const width = Math.max(...entries.map(([label]) => label.length));
  const lines: string[] = [];
  for (const [label, value] of entries) {
    const values = typeof value === 'string' ? [value] : value.length ? value : ['-'];
    for (const [i, v] of values.entries()) lines.push(`${(i === 0 ? label : '').padEnd(width)}  ${v === '' ? '-' : v}`.trimEnd());
  }
  return lines.join('\n');
}

export const yesNo = (value: boolean): string => (value ? 'yes' : 'no');

/** The command that repeats the caller's --data-dir, for hints. */
export function hint(ctx: Context, words: string): string {
  return `gatehouse ${words}${ctx.dataDirFlag === undefined ? '' : ` --data-dir ${shellQuote(ctx.dataDirFlag)}`}`;
}

export const shellQuote = (value: string): string => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`);

// ---- help -------------------------------------------------------------------------------------

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const left = `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}${name === 'help' ? ', -h' : ''}`;
    const notes = [spec.required ? 'required' : '', spec.multiple ? 'repeatable' : ''].filter(Boolean).join(', ');
    return [left, notes ? `${spec.description.replace(/\.$/, '')} (${notes}).` : spec.description] as const;
  });
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

export function commandHelp(command: CommandSpec): string {
  const own: Record<string, OptionSpec> = { ...command.options };
  for (const key of command.configFlags ?? []) own[key] = CONFIG_FLAG_OPTIONS[key];
  const required = Object.entries(own)
    .filter(([, spec]) => spec.required)
    .map(([name, spec]) => `--${name} ${spec.value ?? 'VALUE'}`);
  const synopsis = ['gatehouse', command.name, ...(command.args ?? []).map((a) => a.name), ...required, '[options]'].join(' ');
  const lines = [`Usage: ${synopsis}`, '', command.summary];
  if (command.args?.length) {
    const width = Math.max(...command.args.map((a) => a.name.length));
    lines.push('', 'Arguments:', ...command.args.map((a) => `  ${a.name.padEnd(width)}  ${a.description}`));
  }
  if (Object.keys(own).length) lines.push('', 'Options:', ...optionLines(own));
  lines.push('', 'Common options:', ...optionLines({ ...COMMON_OPTIONS }));
  if (command.notes) lines.push('', command.notes);
  return lines.join('\n');
}

/** `users show USER`: a command's words and its arguments, for listings. */
export const synopsis = (command: CommandSpec): string => [command.name, ...(command.args ?? []).map((a) => a.name)].join(' ');

export function groupHelp(group: CommandGroup): string {
  const width = Math.max(...group.commands.map((c) => synopsis(c).length));
  return [
    `Usage: gatehouse ${group.name} <command> [options]`,
    '',
    group.summary,
    '',
    'Commands:',
    ...group.commands.map((c) => `  gatehouse ${synopsis(c).padEnd(width)}  ${c.summary}`),
    '',
    `Run "gatehouse ${group.name} <command> --help" for a command's options.`,
  ].join('\n');
}
