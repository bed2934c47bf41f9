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
import { keysGroup } from './keys.ts';
import { serveCommand } from './serve.ts';
import { usersGroup } from './users.ts';

export type { CliIo } from './command.ts';

export const EXIT_OK = 0;
/** A refusal: not found, conflict, invalid value (the directory's DomainError), bad configuration. */
export const EXIT_FAILURE = 1;
/** A malformed command line: unknown command or option, missing argument, badly formatted value. */
export const EXIT_USAGE = 2;

const GROUPS: readonly CommandGroup[] = [usersGroup, groupsGroup, appsGroup, keysGroup, apiKeysGroup, auditGroup];

function rootHelp(): string {
  const lines = [
    'Usage: gatehouse <command> [options]',
    '',
    'Gatehouse: a self-hostable identity provider (OpenID Connect).',
    '',
    'Commands:',
  ];
  const all = [serveCommand, ...GROUPS.flatMap((g) => g.commands)];
  const width = Math.max(...all.map((c) => synopsis(c).length));
  const line = (c: CommandSpec) => `  gatehouse ${synopsis(c).padEnd(width)}  ${c.summary}`;
  lines.push(line(serveCommand));
  for (const group of GROUPS) lines.push('', ...group.commands.map(line));
  lines.push(
    '',
    'Every command takes --data-dir DIR (env GATEHOUSE_DATA_DIR, default ./data) and --json;',
    'GATEHOUSE_DATABASE_URL=postgres://… stores everything in PostgreSQL instead.',
    'Every change a command makes is recorded in the audit log (gatehouse audit list).',
    'Run "gatehouse <command> --help" for its options. Exit status: 0 ok, 1 refused or failed, 2 bad usage.',
  );
  return lines.join('\n');
}

const isHelpWord = (word: string | undefined): boolean => word === '--help' || word === '-h' || word === 'help';

/** Finds the command the words name; the rest of argv belongs to it. Returns help text instead when asked. */
function resolve(argv: readonly string[]): { command: CommandSpec; rest: string[] } | { help: string } {
  const [first, second] = argv;
  if (first === undefined) throw new UsageError('missing command (see gatehouse --help)');
  if (isHelpWord(first)) return { help: rootHelp() };
  if (first === serveCommand.name) return { command: serveCommand, rest: argv.slice(1) };
  const group = GROUPS.find((g) => g.name === first);
  if (!group) {
    throw new UsageError(first.startsWith('-') ? `expected a command before ${first} (see gatehouse --help)` : `unknown command "${first}" (see gatehouse --help)`);
  }
  if (isHelpWord(second)) return { help: groupHelp(group) };
  const names = group.commands.map((c) => c.name.slice(group.name.length + 1));
  if (second === undefined || second.startsWith('-')) {
    throw new UsageError(`missing command: gatehouse ${group.name} ${names.join('|')} (see gatehouse ${group.name} --help)`);
  }
  const command = group.commands.find((c) => c.name === `${group.name} ${second}`);
  if (!command) throw new UsageError(`unknown command "${group.name} ${second}" (see gatehouse ${group.name} --help)`);
  return { command, rest: argv.slice(2) };
}

/** Errors that are part of normal operation: their message is the whole story. */
function isExpected(error: unknown): error is Error {
  if (error instanceof DomainError || error instanceof ConfigError || error instanceof CliFailure) return true;
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
    const open = async () => (await import('../runtime.ts')).openRuntime(config);
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
