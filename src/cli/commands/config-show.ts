import { redactedConfig } from '../../config/load.js';
import type { CommandSpec } from '../command.js';

export const configShowCommand: CommandSpec = {
  path: ['config', 'show'],
  summary:
    'Print the effective configuration (defaults < config file < environment < flags), secrets redacted',
  flags: [],
  run(ctx) {
    ctx.stdout.write(`${JSON.stringify(redactedConfig(ctx.config), null, 2)}\n`);
    return Promise.resolve(0);
  },
};
