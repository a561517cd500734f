import { once } from 'node:events';
import { open, rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { openApp } from '../../app.js';
import { seqBeforePosition, seqOfGtid, parsePositionArg } from '../../recover/bounds.js';
import {
  applyTransactions,
  openRecoveryTarget,
  planRecovery,
  RecoverConflictError,
  type ApplyResult,
  type ChangeSelection,
  type ColumnsMode,
  type ConflictPolicy,
  type Direction,
  type RecoveryPlan,
  type RecoveryStatement,
} from '../../recover/index.js';
import {
  conflictJson,
  conflictLines,
  ndjsonChunks,
  renderPlanText,
  sqlChunks,
} from '../../recover/render.js';
import { canSpool, spoolUndoScript, type SpooledScript } from '../../recover/stream.js';
import { connectSource, sourceDsn, type SourceConnection } from '../../source/connect.js';
import { describeDsn } from '../../source/dsn.js';
import { isoMicros, MAX_CHANGE_QUERY_LIMIT, type ChangeType } from '../../store/change-index.js';
import { flagBool, flagInt, flagString, type CommandSpec } from '../command.js';
import { NotFoundError } from '../../store/errors.js';
import { UsageError } from '../errors.js';
import {
  CHANGE_FILTER_FLAGS,
  checkTimeZone,
  parseColumnEqArg,
  parseTimeArg,
  resolveServer,
} from './change-args.js';
import { canonicalPk } from './query.js';
import { warnPasswordOnArgv } from './shared.js';

export const recoverCommand: CommandSpec = {
  path: ['recover'],
  summary:
    'Undo captured changes exactly (or replay them forward) as SQL: a script, a plan, or applied in one transaction',
  flags: [
    {
      name: 'server-name',
      type: 'string',
      value: 'NAME',
      required: true,
      description: 'The server whose changes to undo (in the configured tenant)',
    },
    ...CHANGE_FILTER_FLAGS,
    {
      name: 'after-gtid',
      type: 'string',
      value: 'GTID',
      description: 'Only changes after the transaction with this GTID (exact, in binlog order)',
    },
    {
      name: 'after-position',
      type: 'string',
      value: 'FILE:POS',
      description: 'Only changes of transactions at or after this binlog position (exact)',
    },
    {
      name: 'direction',
      type: 'string',
      value: 'DIR',
      choices: ['undo', 'forward'],
      description: 'undo (default): reverse the changes, newest first; forward: replay them in commit order',
    },
    {
      name: 'columns',
      type: 'string',
      value: 'MODE',
      choices: ['all', 'changed'],
      description: 'all (default): restore whole rows; changed: only the columns each update changed',
    },
    {
      name: 'on-conflict',
      type: 'string',
      value: 'POLICY',
      choices: ['abort', 'skip', 'force'],
      description:
        'A row changed since: abort (default) refuses and names the later change; skip leaves it; force overwrites it',
    },
    {
      name: 'format',
      type: 'string',
      value: 'FORMAT',
      choices: ['sql', 'ndjson'],
      description: 'sql (default): one script in a transaction; ndjson: one statement per line',
    },
    {
      name: 'output',
      type: 'string',
      value: 'FILE',
      description: 'Write the script to FILE (default: stdout)',
    },
    { name: 'dry-run', type: 'boolean', description: 'Print the plan and counts only' },
    {
      name: 'apply',
      type: 'boolean',
      description: 'Run the statements in one transaction on --dsn, checking every affected-row count',
    },
    {
      name: 'dsn',
      type: 'string',
      value: 'URL',
      description:
        'The server to read foreign keys from and to --apply on: mysql://user@host:port (password from DBTRAIL_SOURCE_PASSWORD or a file)',
    },
    {
      name: 'limit',
      type: 'integer',
      value: 'N',
      min: 1,
      max: 100_000_000,
      description: 'Safety cap: refuse (never truncate) when more than N changes match',
    },
    { name: 'json', type: 'boolean', description: 'With --dry-run or --apply: print one JSON object' },
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
      throw new UsageError(`Cannot recover table "${table}": --table needs --schema too`, {
        flag: '--table',
      });
    }
    if (pk !== undefined && table === undefined) {
      throw new UsageError('Cannot recover by --pk: it needs --schema and --table, to know the key columns', {
        flag: '--pk',
      });
    }
    const since = flagString(args, 'since');
    const until = flagString(args, 'until');
    const sinceUs = since === undefined ? undefined : parseTimeArg('since', since, tz);
    const untilUs = until === undefined ? undefined : parseTimeArg('until', until, tz);
    if (sinceUs !== undefined && untilUs !== undefined && sinceUs > untilUs) {
      throw new UsageError(`Cannot recover changes: --since ${since} is after --until ${until}`, {
        flag: '--since',
      });
    }
    const columnEqText = flagString(args, 'column-eq');
    const columnEq = columnEqText === undefined ? undefined : parseColumnEqArg(columnEqText);
    const afterGtid = flagString(args, 'after-gtid');
    const afterPositionText = flagString(args, 'after-position');
    if (afterGtid !== undefined && afterPositionText !== undefined) {
      throw new UsageError('Cannot recover: give --after-gtid or --after-position, not both', {
        flag: '--after-gtid',
      });
    }
    const afterPosition =
      afterPositionText === undefined ? undefined : parsePositionArg('after-position', afterPositionText);
    const type = flagString(args, 'type') as ChangeType | undefined;
    const gtid = flagString(args, 'gtid');
    const changedColumn = flagString(args, 'changed-column');
    const direction = (flagString(args, 'direction') ?? 'undo') as Direction;
    const columns = (flagString(args, 'columns') ?? 'all') as ColumnsMode;
    const onConflict = (flagString(args, 'on-conflict') ?? 'abort') as ConflictPolicy;
    const format = (flagString(args, 'format') ?? 'sql') as 'sql' | 'ndjson';
    const output = flagString(args, 'output');
    const dryRun = flagBool(args, 'dry-run');
    const apply = flagBool(args, 'apply');
    const json = flagBool(args, 'json');
    const limit = flagInt(args, 'limit');
    const dsnFlag = flagString(args, 'dsn');
    if (dryRun && apply) {
      throw new UsageError('Cannot recover: --dry-run and --apply exclude each other', { flag: '--apply' });
    }
    if (apply && output !== undefined) {
      throw new UsageError(
        'Cannot recover: --apply runs the statements; drop --output (or --apply to write a script)',
        {
          flag: '--output',
        },
      );
    }
    if (apply && dsnFlag === undefined && ctx.config.source.dsn === undefined) {
      throw new UsageError(
        'Cannot recover with --apply: give --dsn mysql://user@host:port of the server to change',
        {
          flag: '--dsn',
        },
      );
    }
    if (json && !dryRun && !apply) {
      throw new UsageError('Cannot recover: --json goes with --dry-run or --apply (scripts use --format)', {
        flag: '--json',
      });
    }
    const dsn =
      dsnFlag !== undefined || ctx.config.source.dsn !== undefined
        ? sourceDsn(ctx.config, dsnFlag)
        : undefined;
    if (dsn !== undefined) warnPasswordOnArgv(ctx, dsn, dsnFlag);

    const app = await openApp(ctx.config);
    let live: SourceConnection | undefined;
    let spooled: SpooledScript | undefined;
    try {
      const { tenant, server } = await resolveServer(app, serverName);
      const index = app.store.changes;
      const base = { tenantId: tenant.id, serverId: server.id };
      const say = (line: string) => {
        // A script on stdout stays a script: messages go to stderr then.
        const toStderr = !dryRun && !apply && output === undefined;
        (toStderr ? ctx.stderr : ctx.stdout).write(`${line}\n`);
      };
      const nothing = (why: string) => {
        if (json)
          ctx.stdout.write(
            `${JSON.stringify({ server: serverName, changes: 0, nothing_to_recover: why })}\n`,
          );
        else say(`Nothing to recover: ${why}`);
        return 0;
      };
      if (table !== undefined) await checkTableKnown(app, base, schema!, table);
      const pkFilter = pk === undefined ? undefined : await canonicalPk(app, base, schema!, table!, pk);
      if (pkFilter === null)
        return nothing(`the index holds no changes of ${schema}.${table} on server "${serverName}"`);
      const afterSeq =
        afterGtid !== undefined
          ? await seqOfGtid(index, tenant.id, server.id, afterGtid)
          : afterPosition !== undefined
            ? await seqBeforePosition(index, tenant.id, server.id, afterPosition)
            : undefined;
      const selection: ChangeSelection = {
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
        ...(afterSeq === undefined ? {} : { afterSeq }),
      };
      const checkpoint = await index.checkpoint(server.id);
      if (checkpoint === undefined) return nothing(`server "${serverName}" has no captured changes`);
      if (dsn !== undefined) live = await connectSource(dsn);
      const deps = { index, flavor: checkpoint.identity.flavor, ...(live === undefined ? {} : { live }) };
      const request = {
        selection,
        direction,
        columns,
        onConflict,
        ...(limit === undefined ? {} : { limit }),
      };
      // A script of a closed undo is generated with bounded memory (see src/recover/stream.ts).
      if (!dryRun && !apply && canSpool(request)) spooled = await spoolUndoScript(deps, request, format);
      const plan = spooled?.plan ?? (await planRecovery(deps, request));
      if (plan.summary.changes === 0 && plan.summary.ddl === 0) {
        return nothing(`no changes of server "${serverName}" match`);
      }
      const renderOptions = { serverName };
      if (dryRun) {
        if (json) ctx.stdout.write(`${JSON.stringify(planJson(plan, serverName))}\n`);
        else ctx.stdout.write(renderPlanText(plan, renderOptions));
        return plan.conflicts.length > 0 && onConflict === 'abort' ? 8 : 0;
      }
      if (plan.conflicts.length > 0 && onConflict === 'abort') {
        throw new RecoverConflictError(
          `Cannot ${direction === 'undo' ? 'undo' : 'replay'} the changes: ${plan.conflicts.length} row${
            plan.conflicts.length === 1 ? ' was' : 's were'
          } changed later by changes not undone with them (use --on-conflict skip to leave them, force to overwrite):\n  ${conflictLines(
            plan.conflicts,
            20,
          ).join('\n  ')}`,
          { fields: { conflicts: plan.conflicts.map(conflictJson) } },
        );
      }
      if (apply) {
        const target = await openRecoveryTarget(dsn!);
        let result: ApplyResult;
        try {
          result = await applyTransactions(target, plan.transactions, {
            mode: 'one',
            onConflict,
            signal: ctx.signal,
            explain: (s) => explainConflict(app, base, plan, s),
          });
        } finally {
          await target.close();
        }
        if (json) {
          ctx.stdout.write(
            `${JSON.stringify({
              ...planJson(plan, serverName),
              applied: {
                target: describeDsn(dsn!),
                transactions: result.transactions,
                statements: result.statements,
                skipped: result.skipped.map((k) => ({
                  seq: String(k.statement.seq),
                  schema: k.statement.schema,
                  table: k.statement.table,
                  sql: k.statement.sql,
                  affected_rows: k.affected,
                  error: k.error,
                  explanation: k.explanation,
                })),
              },
            })}\n`,
          );
        } else {
          ctx.stdout.write(renderPlanText(plan, renderOptions));
          ctx.stdout.write(
            `Applied ${result.statements} statement${result.statements === 1 ? '' : 's'} of ${result.transactions} transaction${
              result.transactions === 1 ? '' : 's'
            } to ${describeDsn(dsn!)} in one transaction${
              result.skipped.length === 0 ? '' : `; skipped ${result.skipped.length} (conflicts):`
            }\n`,
          );
          for (const k of result.skipped) {
            ctx.stdout.write(
              `  change ${k.statement.seq} (${k.statement.change} of ${k.statement.schema}.${k.statement.table}, key ${k.statement.pk}): ${
                k.error ?? `changed ${k.affected} rows`
              }${k.explanation === null ? '' : `; ${k.explanation}`}\n`,
            );
          }
        }
        return 0;
      }
      const chunks =
        spooled !== undefined
          ? spooled.chunks(renderOptions)
          : format === 'sql'
            ? sqlChunks(plan, renderOptions)
            : ndjsonChunks(plan, renderOptions);
      if (output === undefined) {
        for await (const chunk of chunks) await write(ctx.stdout, chunk);
      } else {
        await writeFileAtomically(output, chunks);
        ctx.stdout.write(
          `Wrote ${plan.summary.statements} statement${plan.summary.statements === 1 ? '' : 's'} (${plan.summary.changes} changes in ${plan.summary.transactions} transactions) to ${output}\n`,
        );
      }
      return 0;
    } finally {
      spooled?.close();
      await live?.close();
      await app.close();
    }
  },
};

/** An unknown table is an error, not an empty match: the index never saw a change or definition of it. */
async function checkTableKnown(
  app: Awaited<ReturnType<typeof openApp>>,
  base: { tenantId: string; serverId: string },
  schema: string,
  table: string,
): Promise<void> {
  const [change] = await app.store.changes.query({ ...base, schema, table, limit: 1 });
  if (change !== undefined) return;
  if ((await app.store.changes.tableSchemaAt(base.serverId, schema, table, {})) !== undefined) return;
  throw new NotFoundError(
    `Cannot recover table ${schema}.${table}: the index holds no change and no definition of it (check --schema and --table)`,
    { fields: { schema, table } },
  );
}

async function write(stream: Writable, chunk: string | Uint8Array): Promise<void> {
  if (chunk.length === 0) return;
  if (!stream.write(chunk)) await once(stream, 'drain');
}

/** Writes to FILE.partial and renames it into place, so a failure never leaves half a script at FILE. */
async function writeFileAtomically(
  path: string,
  chunks: Iterable<string> | AsyncIterable<string | Uint8Array>,
): Promise<void> {
  const partial = `${path}.partial`;
  const handle = await open(partial, 'w', 0o600);
  try {
    let buffered = '';
    for await (const chunk of chunks) {
      if (typeof chunk !== 'string') {
        // Spooled body: already in large blocks.
        if (buffered !== '') await handle.write(buffered);
        buffered = '';
        await handle.write(chunk);
        continue;
      }
      buffered += chunk;
      if (buffered.length >= 1 << 20) {
        await handle.write(buffered);
        buffered = '';
      }
    }
    await handle.write(buffered);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(partial, { force: true });
    throw err;
  }
  await handle.close();
  await rename(partial, path);
}

/** The later change (not part of the plan) that explains why a statement matched no row, from the index. */
async function explainConflict(
  app: Awaited<ReturnType<typeof openApp>>,
  base: { tenantId: string; serverId: string },
  plan: RecoveryPlan,
  s: RecoveryStatement,
): Promise<string | undefined> {
  if (plan.direction !== 'undo') return undefined;
  const planned = new Set<bigint>();
  for (const t of plan.transactions) for (const st of t.statements) planned.add(st.seq);
  const keys = new Set([s.pkAfter ?? s.pk, s.pk]);
  for (const key of keys) {
    const later = await app.store.changes.query({
      ...base,
      schema: s.schema,
      table: s.table,
      pk: key,
      seqRange: { after: s.seq },
      limit: MAX_CHANGE_QUERY_LIMIT,
    });
    const first = [...later].sort((a, b) => (a.seq < b.seq ? -1 : 1)).find((r) => !planned.has(r.seq));
    if (first !== undefined) {
      return `changed later by change ${first.seq} (${first.type}${first.gtid === null ? '' : `, GTID ${first.gtid}`}, committed ${isoMicros(first.commitTimeUs)})`;
    }
  }
  return 'changed on the server by a change the index does not hold (after its checkpoint, or not captured)';
}

function planJson(plan: RecoveryPlan, serverName: string): Record<string, unknown> {
  const s = plan.summary;
  return {
    server: serverName,
    direction: plan.direction,
    columns: plan.columns,
    on_conflict: plan.onConflict,
    changes: s.changes,
    statements: s.statements,
    transactions: s.transactions,
    ddl: s.ddl,
    first_seq: s.firstSeq === null ? null : String(s.firstSeq),
    last_seq: s.lastSeq === null ? null : String(s.lastSeq),
    first_commit_time: s.firstCommitUs === null ? null : isoMicros(s.firstCommitUs),
    last_commit_time: s.lastCommitUs === null ? null : isoMicros(s.lastCommitUs),
    gtids: s.gtids,
    tables: s.tables,
    conflicts: plan.conflicts.map(conflictJson),
    notes: plan.notes,
  };
}
