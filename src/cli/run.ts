import type { Writable } from 'node:stream';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { isDbtrailError, type DbtrailError } from '../lib/errors.js';
import { createLogger } from '../log/logger.js';
import { commandName, parseArgs } from './args.js';
import type { CommandEntry, CommandSpec, ParsedArgs } from './command.js';
import { COMMANDS } from './commands/index.js';
import { UsageError } from './errors.js';
import { EXIT_OK, exitCodeFor } from './exit-codes.js';
import { GLOBAL_FLAGS } from './global-flags.js';
import { commandHelp, topLevelHelp } from './help.js';

export interface CliIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly signal?: AbortSignal;
}

/**
 * Runs one CLI invocation and returns the exit code. The only place where errors become exit codes and
 * one-line messages: a known error prints `dbtrail: <message>` with no stack; an unexpected one prints the stack.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help' || argv[0] === '-h') {
      io.stdout.write(topLevelHelp(COMMANDS));
      return argv.length === 0 ? exitCodeFor('usage') : EXIT_OK;
    }
    if (argv[0] === '--version' || argv[0] === 'version') {
      io.stdout.write(`dbtrail ${await packageVersion()}\n`);
      return EXIT_OK;
    }
    const { entry, rest } = selectCommand(COMMANDS, argv);
    const spec = await entry.load();
    const args = parseArgs(spec, GLOBAL_FLAGS, rest);
    if (args.flags['help'] === true) {
      io.stdout.write(commandHelp(spec, GLOBAL_FLAGS));
      return EXIT_OK;
    }
    const config = configFor(spec, args, io.env);
    const logger = createLogger({
      level: config.log.level,
      format: config.log.format,
      destination: io.stderr,
    });
    const code = await spec.run(
      {
        config,
        logger,
        stdout: io.stdout,
        stderr: io.stderr,
        env: io.env,
        signal: io.signal ?? new AbortController().signal,
      },
      args,
    );
    return code ?? EXIT_OK;
  } catch (err) {
    return report(err, io.stderr);
  }
}

function report(err: unknown, stderr: Writable): number {
  if (isDbtrailError(err) && err.kind !== 'internal') {
    stderr.write(`dbtrail: ${oneLine(err)}\n`);
    return exitCodeFor(err.kind);
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : describeThrown(err);
  stderr.write(`dbtrail: unexpected error (please report it)\n${stack}\n`);
  return exitCodeFor('internal');
}

function oneLine(err: DbtrailError): string {
  return err.message.replace(/\s*\n\s*/g, ' ');
}

export function selectCommand(
  commands: readonly CommandEntry[],
  argv: readonly string[],
): { entry: CommandEntry; rest: readonly string[] } {
  let best: CommandEntry | undefined;
  for (const spec of commands) {
    if (
      spec.path.every((word, i) => argv[i] === word) &&
      (best === undefined || spec.path.length > best.path.length)
    ) {
      best = spec;
    }
  }
  if (best === undefined) {
    const prefix = commands.filter((c) => c.path[0] === argv[0]);
    if (prefix.length > 0) {
      throw new UsageError(
        `Cannot run "dbtrail ${argv.slice(0, 2).join(' ')}": unknown subcommand, expected one of: ${prefix
          .map((c) => c.path.slice(1).join(' '))
          .join(', ')}`,
      );
    }
    throw new UsageError(`Cannot run "dbtrail ${argv[0]}": unknown command (see dbtrail --help)`, {
      command: argv[0],
    });
  }
  return { entry: best, rest: argv.slice(best.path.length) };
}

function configFor(spec: CommandSpec, args: ParsedArgs, env: NodeJS.ProcessEnv): Config {
  const flags: Record<string, string | boolean | undefined> = {};
  for (const f of [...GLOBAL_FLAGS, ...spec.flags]) {
    const v = args.flags[f.name];
    if (f.config !== undefined && (typeof v === 'string' || typeof v === 'boolean')) flags[f.config] = v;
  }
  const home = args.flags['home'];
  const configFile = args.flags['config'];
  return loadConfig({
    env,
    flags,
    ...(typeof home === 'string' ? { home } : {}),
    ...(typeof configFile === 'string' ? { configFile } : {}),
  });
}

async function packageVersion(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const url = new URL('../../package.json', import.meta.url);
  const pkg = JSON.parse(await readFile(url, 'utf8')) as { version: string };
  return pkg.version;
}

export { commandName };

/** A thrown value that is not an Error (a library rejecting with a plain object): show its fields, not "[object Object]". */
function describeThrown(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value);
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch {
    return Object.prototype.toString.call(value);
  }
}
