import { sourceDsn } from '../../source/connect.js';
import { runDoctor } from '../../source/run-doctor.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';
import { renderDoctor } from '../render/doctor.js';
import { warnPasswordOnArgv } from './shared.js';

export const doctorCommand: CommandSpec = {
  path: ['doctor'],
  summary:
    'Check whether a MySQL/MariaDB server is ready for dbtrail (binlog settings, GTIDs, retention, privileges)',
  flags: [
    {
      name: 'dsn',
      type: 'string',
      value: 'URL',
      description: 'mysql://user@host:port (password from DBTRAIL_SOURCE_PASSWORD or a file)',
    },
    { name: 'json', type: 'boolean', description: 'Print one JSON object' },
  ],
  async run(ctx, args) {
    const dsn = sourceDsn(ctx.config, flagString(args, 'dsn'));
    warnPasswordOnArgv(ctx, dsn, flagString(args, 'dsn'));
    const report = await runDoctor(dsn);
    if (flagBool(args, 'json')) ctx.stdout.write(`${JSON.stringify(report)}\n`);
    else ctx.stdout.write(renderDoctor(report, ctx.stdout.isTTY === true));
    return report.ok ? 0 : 1;
  },
};
