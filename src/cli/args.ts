import type { CommandSpec, FlagSpec, FlagValue, ParsedArgs } from './command.js';
import { UsageError } from './errors.js';

/**
 * Parses argv for one command against its flag table. Accepts `--flag value`, `--flag=value`, `--no-flag` for
 * booleans, and `--` to end flags. Every failure names the flag and what was expected.
 */
export function parseArgs(
  spec: CommandSpec,
  globals: readonly FlagSpec[],
  argv: readonly string[],
): ParsedArgs {
  const table = new Map<string, FlagSpec>();
  for (const f of [...globals, ...spec.flags]) table.set(f.name, f);
  const flags: Record<string, FlagValue | undefined> = {};
  const positionals: string[] = [];
  const usage = commandName(spec);

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      if (arg.startsWith('-') && arg !== '-') {
        throw new UsageError(
          `Cannot parse ${usage}: unknown flag "${arg}" (flags use two dashes, see --help)`,
          { flag: arg },
        );
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let inline: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    let negated = false;
    if (!table.has(name) && name.startsWith('no-') && table.get(name.slice(3))?.type === 'boolean') {
      name = name.slice(3);
      negated = true;
    }
    const flag = table.get(name);
    if (flag === undefined) {
      throw new UsageError(
        `Cannot parse ${usage}: unknown flag "--${name}"${suggest(name, [...table.keys()])}`,
        {
          flag: `--${name}`,
        },
      );
    }
    if (flag.type === 'boolean') {
      if (inline !== undefined) {
        if (inline !== 'true' && inline !== 'false') {
          throw new UsageError(
            `Cannot parse ${usage}: flag --${name} takes no value or true/false, got "${inline}"`,
            {
              flag: `--${name}`,
            },
          );
        }
        flags[name] = inline === 'true' ? !negated : negated;
      } else {
        flags[name] = !negated;
      }
      continue;
    }
    if (negated) throw new UsageError(`Cannot parse ${usage}: --no-${name} applies only to on/off flags`);
    if (inline === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(
          `Cannot parse ${usage}: flag --${name} needs a value${flag.value ? ` (${flag.value})` : ''}`,
          { flag: `--${name}` },
        );
      }
      inline = next;
      i++;
    }
    flags[name] = convert(usage, flag, inline, flags[name]);
  }

  for (const f of spec.flags) {
    if (f.required && flags[f.name] === undefined && flags['help'] !== true) {
      throw new UsageError(
        `Cannot parse ${usage}: missing required flag --${f.name}${f.value ? ` ${f.value}` : ''}`,
        {
          flag: `--${f.name}`,
        },
      );
    }
  }
  checkPositionals(spec, positionals, usage, flags['help'] === true);
  return { flags, positionals };
}

function convert(usage: string, flag: FlagSpec, text: string, previous: FlagValue | undefined): FlagValue {
  switch (flag.type) {
    case 'integer': {
      if (!/^-?\d+$/.test(text)) {
        throw new UsageError(
          `Cannot parse ${usage}: flag --${flag.name} expects a whole number, got "${text}"`,
          {
            flag: `--${flag.name}`,
          },
        );
      }
      const n = Number(text);
      if (
        !Number.isSafeInteger(n) ||
        (flag.min !== undefined && n < flag.min) ||
        (flag.max !== undefined && n > flag.max)
      ) {
        const range =
          flag.min !== undefined && flag.max !== undefined
            ? `from ${flag.min} to ${flag.max}`
            : flag.min !== undefined
              ? `of at least ${flag.min}`
              : 'in range';
        throw new UsageError(
          `Cannot parse ${usage}: flag --${flag.name} expects a whole number ${range}, got "${text}"`,
          {
            flag: `--${flag.name}`,
          },
        );
      }
      return n;
    }
    case 'list': {
      const items = text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (items.length === 0) {
        throw new UsageError(
          `Cannot parse ${usage}: flag --${flag.name} expects a comma-separated list, got "${text}"`,
          {
            flag: `--${flag.name}`,
          },
        );
      }
      const prev = Array.isArray(previous) ? (previous as readonly string[]) : [];
      return [...prev, ...items];
    }
    default: {
      if (flag.choices && !flag.choices.includes(text)) {
        throw new UsageError(
          `Cannot parse ${usage}: flag --${flag.name} must be one of ${flag.choices.join(', ')}, got "${text}"`,
          { flag: `--${flag.name}` },
        );
      }
      return text;
    }
  }
}

function checkPositionals(spec: CommandSpec, positionals: string[], usage: string, help: boolean): void {
  const specs = spec.positionals ?? [];
  if (help) return;
  const variadic = specs.some((p) => p.variadic);
  if (!variadic && positionals.length > specs.length) {
    throw new UsageError(`Cannot parse ${usage}: unexpected argument "${positionals[specs.length]}"`, {
      argument: positionals[specs.length],
    });
  }
  specs.forEach((p, i) => {
    if (p.required && positionals[i] === undefined) {
      throw new UsageError(`Cannot parse ${usage}: missing ${p.name}${p.variadic ? '...' : ''}`, {
        argument: p.name,
      });
    }
  });
}

export function commandName(spec: CommandSpec): string {
  return `dbtrail ${spec.path.join(' ')}`;
}

function suggest(name: string, known: string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best === undefined ? '' : ` (did you mean --${best}?)`;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length] as number;
}
