import type { CommandEntry, CommandSpec, FlagSpec } from './command.js';

export function topLevelHelp(commands: readonly CommandEntry[]): string {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  const lines = commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return [
    'dbtrail: continuous change capture and verified backups for MySQL and MariaDB',
    '',
    'Usage: dbtrail <command> [flags]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `dbtrail <command> --help` for the flags of a command.',
    '',
  ].join('\n');
}

export function commandHelp(spec: CommandSpec, globals: readonly FlagSpec[]): string {
  const positionals = (spec.positionals ?? [])
    .map((p) => {
      const n = p.variadic ? `${p.name}...` : p.name;
      return p.required ? n : `[${n}]`;
    })
    .join(' ');
  const flagLine = (f: FlagSpec): string => {
    const left = `--${f.name}${f.type === 'boolean' ? '' : ` ${f.value ?? f.type.toUpperCase()}`}`;
    const extra = [f.required ? 'required' : '', f.choices ? `one of: ${f.choices.join(', ')}` : ''].filter(
      Boolean,
    );
    return `  ${left.padEnd(30)} ${f.description}${extra.length ? ` (${extra.join('; ')})` : ''}`;
  };
  return [
    `Usage: dbtrail ${spec.path.join(' ')}${spec.flags.length ? ' [flags]' : ''}${positionals ? ` ${positionals}` : ''}`,
    '',
    spec.summary,
    '',
    ...(spec.positionals?.length
      ? ['Arguments:', ...spec.positionals.map((p) => `  ${p.name.padEnd(30)} ${p.description}`), '']
      : []),
    ...(spec.flags.length ? ['Flags:', ...spec.flags.map(flagLine), ''] : []),
    'Global flags:',
    ...globals.map(flagLine),
    '',
  ].join('\n');
}
