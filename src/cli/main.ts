import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../config/config.ts';
import { DomainError } from '../directory/errors.ts';
import type { Runtime } from '../runtime.ts';
import { apiKeysGroup } from './api-keys.ts';
import { appsGroup } from './apps.ts';
import { auditGroup } from './audit.ts';
import {
  CliFailure,
  type CliIo,
  type CommandGroup,
  type CommandSpec,
  UsageError,
  commandHelp,
  createContext,
  groupHelp,
  oneLine,
  parseCommandLine,
  synopsis,
  wantsHelp,
} from './command.ts';
import { groupsGroup } from './groups.ts';
import { idpsGroup } from './idps.ts';
import { initCommand } from './init.ts';
import { NotInstalledError, requireInstallation } from './installation.ts';
import { keysGroup } from './keys.ts';
import { routingPoliciesGroup } from './routing-policies.ts';
import { policiesGroup } from './policies.ts';
import { serveCommand } from './serve.ts';
import { usersGroup } from './users.ts';

export type { CliIo } from './command.ts';

export const EXIT_OK = 0;
/** A refusal or failure: not found, conflict, invalid value (the directory's DomainError), port in use, database unreachable. */
export const EXIT_FAILURE = 1;
/**
 * Bad input before anything ran: unknown command or option, missing argument, badly formatted value,
 * a bad configuration value (flag or variable), a data directory that holds no Gatehouse database.
 */
export const EXIT_USAGE = 2;

/** The commands that are one word, not a group and a subcommand. */
const SINGLE_COMMANDS: readonly CommandSpec[] = [serveCommand, initCommand];

const GROUPS: readonly CommandGroup[] = [usersGroup, groupsGroup, appsGroup, idpsGroup, routingPoliciesGroup, policiesGroup, keysGroup, apiKeysGroup, auditGroup];

function rootHelp(): string {
  const lines = [
    'Usage: gatehouse <command> [options]',
    '',
    'Gatehouse: a self-hostable identity provider (OpenID Connect).',
    '',
    'Commands:',
  ];
  const all = [...SINGLE_COMMANDS, ...GROUPS.flatMap((g) => g.commands)];
  const width = Math.max(...all.map((c) => synopsis(c).length));
  const line = (c: CommandSpec) => `  gatehouse ${synopsis(c).padEnd(width)}  ${c.summary}`;
  lines.push(...SINGLE_COMMANDS.map(line));
  for (const group of GROUPS) lines.push('', ...group.commands.map(line));
  lines.push(
    '',
    'Every command takes --data-dir DIR (env GATEHOUSE_DATA_DIR, default ./data) and --json, before or after',
    'the command; GATEHOUSE_DATABASE_URL=postgres://… stores everything in PostgreSQL instead.',
    'Only serve and init create a data directory; the other commands refuse one that holds no Gatehouse database.',
    'Every change a command makes is recorded in the audit log (gatehouse audit list).',
    'Run "gatehouse <command> --help" for its options.',
    'Exit status: 0 ok, 1 refused or failed, 2 bad usage or configuration.',
  );
  return lines.join('\n');
}

const isHelpWord = (word: string | undefined): boolean => word === '--help' || word === '-h' || word === 'help';

/**
 * Options that may come before the command words (`gatehouse --data-dir DIR users list`), with
 * whether they take a value. The command's own parser then checks them like any other option, so
 * `--port` before a command that has none is refused as an unknown option of that command.
 */
const GLOBAL_OPTIONS: Readonly<Record<string, { value?: string }>> = {
  'data-dir': { value: 'DIR' },
  json: {},
  port: { value: 'PORT' },
  host: { value: 'HOST' },
  issuer: { value: 'URL' },
};

/**
 * Splits argv into the command words and the options given among them. Stops at the first token
 * that is neither a global option nor, while words are still wanted, a word.
 */
function splitWords(argv: readonly string[], wanted: (words: readonly string[]) => boolean): { words: string[]; options: string[]; rest: string[]; help: boolean } {
  const words: string[] = [];
  const options: string[] = [];
  let i = 0;
  while (i < argv.length && wanted(words)) {
    const token = argv[i] as string;
    if (token === '--help' || token === '-h') return { words, options, rest: argv.slice(i + 1), help: true };
    if (token === '--' || !token.startsWith('-')) {
      if (token === '--') break;
      words.push(token);
      i += 1;
      continue;
    }
    const [name = '', inline] = token.slice(2).split(/=(.*)/s);
    const spec = token.startsWith('--') ? GLOBAL_OPTIONS[name] : undefined;
    if (!spec) throw new UsageError(words.length === 0 ? `unknown option ${token.split('=')[0]} before the command (see gatehouse --help)` : `unknown option ${token.split('=')[0]}`);
    if (spec.value && inline === undefined) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value (${spec.value})`);
      options.push(token, value);
      i += 2;
    } else {
      options.push(token);
      i += 1;
    }
  }
  return { words, options, rest: argv.slice(i), help: false };
}

/** Finds the command the words name; the rest of argv belongs to it. Returns help text instead when asked. */
function resolve(argv: readonly string[]): { command: CommandSpec; rest: string[] } | { help: string } {
  // Words are wanted until they name a command: one word for serve and init, two for a group's commands.
  const isSingle = (word: string | undefined) => SINGLE_COMMANDS.some((c) => c.name === word);
  const split = splitWords(argv, (words) => words.length === 0 || (words.length === 1 && !isSingle(words[0]) && !isHelpWord(words[0])));
  const [first, second] = split.words;
  if (first === undefined) {
    if (split.help) return { help: rootHelp() };
    throw new UsageError('missing command (see gatehouse --help)');
  }
  if (isHelpWord(first)) return { help: rootHelp() };
  const single = SINGLE_COMMANDS.find((c) => c.name === first);
  // Help asked among the leading options still belongs to the command named.
  const rest = [...split.options, ...(split.help ? ['--help'] : []), ...split.rest];
  if (single) return { command: single, rest };
  const group = GROUPS.find((g) => g.name === first);
  if (!group) throw new UsageError(`unknown command "${first}" (see gatehouse --help)`);
  if (split.help && second === undefined) return { help: groupHelp(group) };
  if (isHelpWord(second)) return { help: groupHelp(group) };
  const names = group.commands.map((c) => c.name.slice(group.name.length + 1));
  if (second === undefined) {
    throw new UsageError(`missing command: gatehouse ${group.name} ${names.join('|')} (see gatehouse ${group.name} --help)`);
  }
  const command = group.commands.find((c) => c.name === `${group.name} ${second}`);
  if (!command) throw new UsageError(`unknown command "${group.name} ${second}" (see gatehouse ${group.name} --help)`);
  return { command, rest };
}

/** Errors that are part of normal operation: their message is the whole story. */
function isExpected(error: unknown): error is Error {
  if (error instanceof DomainError || error instanceof CliFailure) return true;
  // Known by name, so that loading this module never loads the database drivers (src/storage/db.ts).
  if (error instanceof Error && error.name === 'DatabaseUnreachableError') return true;
  // Operating-system refusals (EACCES on the data directory, EADDRINUSE, ECONNREFUSED from PostgreSQL).
  const e = error as { syscall?: unknown; code?: unknown };
  return error instanceof Error && typeof e.syscall === 'string' && typeof e.code === 'string';
}

/**
 * Runs one command line and resolves to its exit status. Results go to io.stdout (JSON with --json),
 * errors to io.stderr as a single line `gatehouse: …`.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const write = (stream: NodeJS.WritableStream, text: string) => {
    if (text) stream.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  let runtime: Promise<Runtime> | undefined;
  try {
    const target = resolve(argv);
    if ('help' in target) {
      write(io.stdout, target.help);
      return EXIT_OK;
    }
    const { command, rest } = target;
    if (wantsHelp(rest)) {
      write(io.stdout, commandHelp(command));
      return EXIT_OK;
    }
    const parsed = parseCommandLine(command, rest);
    const flag = (name: string) => {
      const value = parsed.values[name];
      return typeof value === 'string' ? value : undefined;
    };
    const config = loadConfig({ dataDir: flag('data-dir'), port: flag('port'), host: flag('host'), issuer: flag('issuer') }, io.env);
    // Storage, crypto and the database drivers load only for commands that use them, so help and usage errors stay quick.
    const open = async () => {
      // A mistyped --data-dir must not become a new, empty installation: only serve and init create one.
      if (!command.createsDataDir) requireInstallation(config, flag('data-dir') !== undefined);
      return (await import('../runtime.ts')).openRuntime(config);
    };
    const ctx = createContext({ command, parsed, config, io, runtime: () => (runtime ??= open()) });
    const output = await command.run(ctx);
    if (output) write(io.stdout, ctx.json ? JSON.stringify(output.data, null, 2) : output.text);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof UsageError) {
      const where = error.command && !error.message.includes('--help') ? ` (see gatehouse ${error.command} --help)` : '';
      write(io.stderr, `gatehouse: ${oneLine(error.message)}${where}`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigError || error instanceof NotInstalledError) {
      write(io.stderr, `gatehouse: ${oneLine(error.message)}`);
      return EXIT_USAGE;
    }
    if (isExpected(error)) {
      write(io.stderr, `gatehouse: ${oneLine(error.message)}`);
      return EXIT_FAILURE;
    }
    const message = error instanceof Error ? error.message : String(error);
    write(io.stderr, `gatehouse: unexpected error: ${oneLine(message)}${io.env['GATEHOUSE_DEBUG'] ? '' : ' (set GATEHOUSE_DEBUG=1 for details)'}`);
    if (io.env['GATEHOUSE_DEBUG'] && error instanceof Error && error.stack) write(io.stderr, error.stack);
    return EXIT_FAILURE;
  } finally {
    if (runtime) await runtime.then((r) => r.close()).catch(() => undefined);
  }
}

/** True when this process was started as the gatehouse command (bin/gatehouse.js, directly or through a symlink). */
function startedAsCli(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  const bin = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));
  const here = fileURLToPath(import.meta.url);
  try {
    const real = realpathSync(script);
    return real === realpathSync(bin) || real === here;
  } catch {
    return false;
  }
}

if (startedAsCli()) {
  process.exitCode = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
}
