import { openApp, type App } from '../../app.js';
import type { CanonicalValue } from '../../binlog/column-types.js';
import {
  DEFAULT_CHANGE_QUERY_LIMIT,
  MAX_CHANGE_QUERY_LIMIT,
  pkText,
  type ChangeQuery,
  type ChangeRecord,
  type ChangeType,
} from '../../store/change-index.js';
import { flagInt, flagString, type CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';
import {
  DEFAULT_TABLE_WIDTH,
  QUERY_FORMATS,
  renderChangeTable,
  renderCsv,
  renderJson,
  renderNdjson,
  type QueryFormat,
} from '../render/changes.js';
import {
  CHANGE_FILTER_FLAGS,
  checkTimeZone,
  parseColumnEqArg,
  parseTimeArg,
  pkValues,
  resolveServer,
  splitPkArg,
} from './change-args.js';

export const queryCommand: CommandSpec = {
  path: ['query'],
  summary: 'Search the captured row changes of a server',
  flags: [
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'The server (in the configured tenant)',
    },
    ...CHANGE_FILTER_FLAGS,
    {
      name: 'limit',
      type: 'integer',
      value: 'N',
      min: 1,
      max: MAX_CHANGE_QUERY_LIMIT,
      description: `At most N changes (default ${DEFAULT_CHANGE_QUERY_LIMIT})`,
    },
    {
      name: 'order',
      type: 'string',
      value: 'ORDER',
      choices: ['asc', 'desc'],
      description: 'Oldest first (asc, default) or newest first',
    },
    {
      name: 'format',
      type: 'string',
      value: 'FORMAT',
      choices: QUERY_FORMATS,
      description: 'table (default), json, ndjson (one change per line) or csv',
    },
  ],
  async run(ctx, args) {
    // Everything about the command line is checked before the store is opened.
    const serverName = flagString(args, 'server-name')!;
    const schema = flagString(args, 'schema');
    const table = flagString(args, 'table');
    const pk = flagString(args, 'pk');
    const tz = flagString(args, 'tz');
    if (tz !== undefined) checkTimeZone(tz);
    if (table !== undefined && schema === undefined) {
      throw new UsageError(`Cannot query table "${table}": --table needs --schema too`, { flag: '--table' });
    }
    if (pk !== undefined && table === undefined) {
      throw new UsageError('Cannot query by --pk: it needs --schema and --table, to know the key columns', {
        flag: '--pk',
      });
    }
    const since = flagString(args, 'since');
    const until = flagString(args, 'until');
    const sinceUs = since === undefined ? undefined : parseTimeArg('since', since, tz);
    const untilUs = until === undefined ? undefined : parseTimeArg('until', until, tz);
    if (sinceUs !== undefined && untilUs !== undefined && sinceUs > untilUs) {
      throw new UsageError(`Cannot query changes: --since ${since} is after --until ${until}`, {
        flag: '--since',
      });
    }
    const columnEqText = flagString(args, 'column-eq');
    const columnEq = columnEqText === undefined ? undefined : parseColumnEqArg(columnEqText);
    const type = flagString(args, 'type') as ChangeType | undefined;
    const gtid = flagString(args, 'gtid');
    const changedColumn = flagString(args, 'changed-column');
    const limit = flagInt(args, 'limit');
    const order = flagString(args, 'order') as 'asc' | 'desc' | undefined;
    const format = (flagString(args, 'format') ?? 'table') as QueryFormat;

    const app = await openApp(ctx.config);
    let records: readonly ChangeRecord[];
    try {
      const { tenant, server } = await resolveServer(app, serverName);
      const base = { tenantId: tenant.id, serverId: server.id };
      const pkFilter = pk === undefined ? undefined : await canonicalPk(app, base, schema!, table!, pk);
      if (pkFilter === null) {
        records = [];
      } else {
        const filter: ChangeQuery = {
          ...base,
          ...(schema === undefined ? {} : { schema }),
          ...(table === undefined ? {} : { table }),
          ...(pkFilter === undefined ? {} : { pk: pkFilter }),
          ...(sinceUs === undefined ? {} : { sinceUs }),
          ...(untilUs === undefined ? {} : { untilUs }),
          ...(type === undefined ? {} : { type }),
          ...(gtid === undefined ? {} : { gtid }),
          ...(changedColumn === undefined ? {} : { changedColumn }),
          ...(columnEq === undefined ? {} : { columnEq }),
          ...(limit === undefined ? {} : { limit }),
          ...(order === undefined ? {} : { order }),
        };
        records = await app.store.changes.query(filter);
      }
    } finally {
      await app.close();
    }
    switch (format) {
      case 'json':
        ctx.stdout.write(renderJson(serverName, records));
        break;
      case 'ndjson':
        ctx.stdout.write(renderNdjson(serverName, records));
        break;
      case 'csv':
        ctx.stdout.write(renderCsv(serverName, records));
        break;
      case 'table':
        if (records.length === 0) {
          ctx.stdout.write(`No changes of server "${serverName}" match\n`);
        } else {
          const width =
            ctx.stdout.isTTY === true && ctx.stdout.columns !== undefined
              ? ctx.stdout.columns
              : DEFAULT_TABLE_WIDTH;
          ctx.stdout.write(renderChangeTable(records, width));
        }
        break;
    }
    return 0;
  },
};

/**
 * The canonical PK text for --pk, checked against the table's key: the key columns come from the newest change
 * of the table in the index, else from its schema history. Returns null when the index knows nothing of the
 * table (so nothing can match).
 */
export async function canonicalPk(
  app: App,
  base: { tenantId: string; serverId: string },
  schema: string,
  table: string,
  text: string,
): Promise<string | null> {
  const [newest] = await app.store.changes.query({ ...base, schema, table, order: 'desc', limit: 1 });
  let columns: readonly string[];
  let sample: CanonicalValue[] | undefined;
  if (newest !== undefined) {
    if (newest.pkIsFullImage) throw noPrimaryKey(schema, table);
    columns = newest.pkColumns;
    sample = JSON.parse(newest.pk) as CanonicalValue[];
  } else {
    const definition = await app.store.changes.tableSchemaAt(base.serverId, schema, table, {});
    if (definition === undefined) return null;
    if (definition.primaryKey.length === 0) throw noPrimaryKey(schema, table);
    columns = definition.primaryKey;
  }
  const given = splitPkArg(text);
  if (given.length !== columns.length) {
    throw new UsageError(
      `Cannot query ${schema}.${table} by --pk "${text}": its primary key has ${columns.length} column${
        columns.length === 1 ? '' : 's'
      } (${columns.join(', ')}), got ${given.length} value${given.length === 1 ? '' : 's'}; separate values with | and write a literal | as \\|`,
      { flag: '--pk', value: text, pkColumns: columns },
    );
  }
  return pkText(pkValues(given, sample, columns));
}

function noPrimaryKey(schema: string, table: string): UsageError {
  return new UsageError(
    `Cannot query ${schema}.${table} by --pk: the table has no primary key; use --column-eq COL=VALUE instead`,
    { flag: '--pk' },
  );
}
