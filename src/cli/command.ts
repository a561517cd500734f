import type { Writable } from 'node:stream';
import type { Logger } from '../log/logger.js';
import type { Config } from '../config/schema.js';

/**
 * How a command is declared. Commands are thin: parse -> call a service -> render. The command table
 * (commands/index.ts) lists them all; `main.ts` is the only place that turns errors into exit codes.
 */
export type FlagType = 'string' | 'boolean' | 'integer' | 'list';

export interface FlagSpec {
  /** Long name without dashes, kebab-case: `--from-pos` is `from-pos`. */
  readonly name: string;
  readonly type: FlagType;
  readonly description: string;
  /** Placeholder shown in help, e.g. `URL`. */
  readonly value?: string;
  readonly required?: boolean;
  /** For string flags: the accepted values. */
  readonly choices?: readonly string[];
  /** Allowed range for integer flags. */
  readonly min?: number;
  readonly max?: number;
  /** Maps the flag onto a config setting key (e.g. `source.dsn`), so it takes part in config precedence. */
  readonly config?: string;
}

export interface PositionalSpec {
  readonly name: string;
  readonly description: string;
  readonly required?: boolean;
  /** Takes all remaining arguments. */
  readonly variadic?: boolean;
}

export type FlagValue = string | boolean | bigint | number | readonly string[];

export interface ParsedArgs {
  /** Flag values keyed by flag name. Integer flags are numbers; list flags are arrays split on commas. */
  readonly flags: Readonly<Record<string, FlagValue | undefined>>;
  readonly positionals: readonly string[];
}

export interface CommandContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly stdout: Writable & { isTTY?: boolean; columns?: number };
  readonly stderr: Writable & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM: long-running commands stop at a safe boundary. */
  readonly signal: AbortSignal;
}

export interface CommandSpec {
  /** The words that select it: `['binlog', 'decode']`. */
  readonly path: readonly string[];
  readonly summary: string;
  readonly flags: readonly FlagSpec[];
  readonly positionals?: readonly PositionalSpec[];
  /** Returns the exit code; 0 when omitted. */
  run(ctx: CommandContext, args: ParsedArgs): Promise<number | void>;
}

/** Typed accessors so commands do not cast. */
export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}
export function flagBool(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}
export function flagInt(args: ParsedArgs, name: string): number | undefined {
  const v = args.flags[name];
  return typeof v === 'number' ? v : undefined;
}
export function flagList(args: ParsedArgs, name: string): readonly string[] | undefined {
  const v = args.flags[name];
  return Array.isArray(v) ? (v as readonly string[]) : undefined;
}

/** A row of the command table: enough to select a command and list it in help, without loading its module. */
export interface CommandEntry {
  readonly path: readonly string[];
  readonly summary: string;
  load(): Promise<CommandSpec>;
}
