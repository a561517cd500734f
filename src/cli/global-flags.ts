import type { FlagSpec } from './command.js';

/** Flags every command accepts; they feed the config layer. */
export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  {
    name: 'home',
    type: 'string',
    value: 'DIR',
    description: 'dbtrail home directory (default: $DBTRAIL_HOME or ~/.dbtrail)',
  },
  { name: 'config', type: 'string', value: 'FILE', description: 'Config file (default: <home>/config.json)' },
  {
    name: 'log-level',
    type: 'string',
    value: 'LEVEL',
    choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
    config: 'log.level',
    description: 'Log level',
  },
  {
    name: 'log-format',
    type: 'string',
    value: 'FORMAT',
    choices: ['auto', 'pretty', 'json'],
    config: 'log.format',
    description: 'Log format',
  },
  { name: 'help', type: 'boolean', description: 'Show help' },
];
