import { migrateState } from '../../app.js';
import { parseStateUrl } from '../../store/state-url.js';
import { flagBool, flagString, type CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';

/**
 * `dbtrail migrate-state --from sqlite:PATH [--to postgres://...]`: moves an embedded installation's state to
 * PostgreSQL. The target defaults to the configured stateUrl (DBTRAIL_STATE_URL), so that its password never
 * has to be typed on the command line, where every user of the host can read it; a `--to` URL may name the
 * database without a password and take it from PGPASSWORD.
 */
export const migrateStateCommand: CommandSpec = {
  path: ['migrate-state'],
  summary:
    'Copy all state (catalog, change index, control plane, audit log) from SQLite to PostgreSQL in one verified transaction',
  flags: [
    {
      name: 'from',
      type: 'string',
      value: 'URL',
      required: true,
      description: 'The SQLite state to copy: sqlite:PATH',
    },
    {
      name: 'to',
      type: 'string',
      value: 'URL',
      description:
        'The PostgreSQL database: postgres://user@host/db, password from PGPASSWORD (default: DBTRAIL_STATE_URL)',
    },
    {
      name: 'force',
      type: 'boolean',
      description: 'Replace the state a non-empty target holds (by default it is refused, never merged)',
    },
    { name: 'json', type: 'boolean', description: 'Print the result as JSON' },
  ],
  async run(ctx, args) {
    const from = flagString(args, 'from')!;
    const flagTo = flagString(args, 'to');
    if (flagTo !== undefined && /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:[^@/]*@/i.test(flagTo)) {
      throw new UsageError(
        'Cannot use --to: it holds a password, which every user of this host can read in the process list; give the URL without it and set PGPASSWORD, or set DBTRAIL_STATE_URL',
        { flag: 'to' },
      );
    }
    const to = flagTo ?? ctx.config.stateUrl;
    const target = parseStateUrl(to);
    if (target.kind !== 'postgres') {
      throw new UsageError(
        `Cannot migrate state to ${to}: expected a postgres:// URL in --to or DBTRAIL_STATE_URL`,
        { flag: 'to' },
      );
    }
    const log = ctx.logger.child({ component: 'migrate-state' });
    const result = await migrateState(from, to, {
      replace: flagBool(args, 'force'),
      onTable: (table, rows) => log.info({ table, rows }, `Copied ${rows} rows of ${table}`),
    });
    const rows = result.tables.reduce((n, t) => n + t.rows, 0);
    if (flagBool(args, 'json')) {
      ctx.stdout.write(
        `${JSON.stringify(
          {
            from,
            to: target.display,
            schema_version: result.schemaVersion,
            rows,
            tables: result.tables.map((t) => ({ table: t.table, rows: t.rows })),
            last_seqs: result.lastSeqs,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      const width = Math.max(...result.tables.map((t) => t.table.length));
      for (const t of result.tables) ctx.stdout.write(`${t.table.padEnd(width)}  ${t.rows}\n`);
      ctx.stdout.write(
        `Copied ${rows} rows in ${result.tables.length} tables from ${from} to ${target.display}; counts and last seqs verified\n`,
      );
    }
    return 0;
  },
};
