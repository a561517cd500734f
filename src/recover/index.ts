/**
 * Recovery: exact undo and forward replay of captured changes as SQL. The public API of this folder; these
 * signatures are stable (other services, e.g. point-in-time restore, build on them).
 *
 * Undo or replay a selection (what `dbtrail recover` does):
 *
 *   const plan = await planRecovery({ index, flavor, live }, { selection, direction: 'undo' });
 *   // plan.transactions: in execution order; plan.conflicts: rows changed later, with the later change
 *   output.write(renderSql(plan, { serverName }));            // a script in one transaction, or:
 *   await applyTransactions(target, plan.transactions, { mode: 'one', onConflict: 'abort' });
 *
 * A script of a closed undo selection (`--since T`, `--schema`, `--table`, `--after-gtid`), with bounded memory:
 *
 *   if (canSpool(request)) {
 *     const spooled = await spoolUndoScript(deps, request, 'sql');   // throws like planRecovery refuses
 *     try { for await (const chunk of spooled.chunks({ serverName })) await write(chunk); }  // same bytes as renderSql
 *     finally { spooled.close(); }                                   // spooled.plan: summary, conflicts, notes
 *   }
 *
 * Forward replay of a seq range, one committed transaction at a time (what restore does after loading a dump):
 *
 *   const target = await openRecoveryTarget(resolvedDsn);    // CLIENT_FOUND_ROWS + SESSION_SETUP
 *   const result = await replayForward(target, {
 *     index, tenantId, serverId, flavor,                     // flavor: checkpoint identity's
 *     afterSeq,                                              // last seq the backup already contains
 *     untilSeq,                                              // the target point, inclusive
 *     tables: (schema, table) => ...,                        // optional: which tables
 *     ddl: (d) => ...,                                       // optional: which DDL events (run with USE schema)
 *     targetSchema: (schema) => ...,                         // optional: rename schemas
 *   }, { signal, onProgress });
 *   // result.last: { seq, gtid, file, position, commitTimeUs } of the last committed transaction.
 *   // A failure throws RecoverApplyError whose fields hold lastAppliedSeq / lastAppliedGtid: resume after it.
 *   // Targets from openRecoveryTarget take up to 500 statements per round trip, each checked in SQL; a failure
 *   // is redone one statement at a time, so the error still names the exact statement.
 *
 * `forwardTransactions(request)` yields the same transactions without applying them (dry runs, scripts with
 * `renderTransactionSql`). `seqOfGtid` and `seqBeforePosition` turn a GTID or a binlog position into a seq
 * bound. Seqs are the index's per-server sequence: strictly increasing in binlog order, shared by row changes
 * and DDL; a backup's coordinates map to "the last seq before them" (`seqBeforePosition`).
 */
export {
  applyTransactions,
  type AppliedPoint,
  type ApplyOptions,
  type ApplyProgress,
  type ApplyResult,
  type SkippedStatement,
} from './apply.js';
export { parsePositionArg, seqBeforePosition, seqOfGtid } from './bounds.js';
export { findConflicts, keyAfter, type Conflict, type LaterChange } from './conflicts.js';
export {
  RecoverApplyError,
  RecoverConflictError,
  RecoverGenerateError,
  RecoverInputError,
  RecoverLimitError,
} from './errors.js';
export {
  forwardTransactions,
  replayForward,
  type ForwardReplayRequest,
  type ReplayOptions,
} from './forward.js';
export {
  columnKind,
  quoteIdent,
  quoteTable,
  sqlLiteral,
  sqlMatch,
  type ColumnKind,
  type ColumnShape,
  type Flavor,
} from './literal.js';
export {
  planRecovery,
  type PlanDependencies,
  type PlanRequest,
  type PlanSummary,
  type RecoveryPlan,
  type RecoveryTransaction,
  type TableCount,
} from './plan.js';
export {
  renderNdjson,
  renderPlanText,
  renderSql,
  renderTransactionSql,
  type RenderOptions,
} from './render.js';
export { isClosedSelection, readSelection, type ChangeSelection } from './select.js';
export { TableShapes, type TableShape } from './shapes.js';
export { canSpool, spoolUndoScript, UNDO_WINDOW, type ScriptFormat, type SpooledScript } from './stream.js';
export {
  statementFor,
  type ColumnsMode,
  type ConflictPolicy,
  type Direction,
  type RecoveryStatement,
  type StatementOptions,
} from './statements.js';
export { openRecoveryTarget, connectionTarget, SESSION_SETUP, type RecoveryTarget } from './target.js';
