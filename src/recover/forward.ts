import type { SourceConnection } from '../source/connect.js';
import type { ChangeIndex, ChangeRecord, DdlRecord } from '../store/change-index.js';
import { applyTransactions, type ApplyProgress, type ApplyResult } from './apply.js';
import { RecoverInputError } from './errors.js';
import type { Flavor } from './literal.js';
import { ddlTransaction, groupTransactions, type RecoveryTransaction } from './plan.js';
import { readDdl, streamSeqRange } from './select.js';
import { TableShapes } from './shapes.js';
import {
  statementFor,
  type ColumnsMode,
  type RecoveryStatement,
  type StatementOptions,
} from './statements.js';
import type { RecoveryTarget } from './target.js';

/**
 * Forward replay of a seq range: the changes and DDL with afterSeq < seq <= untilSeq, in commit order, one source
 * transaction at a time, read from the index a window at a time (memory stays bounded however long the range).
 * Point-in-time restore replays from a backup's coordinates to its target with it.
 */
export interface ForwardReplayRequest {
  readonly index: ChangeIndex;
  readonly tenantId: string;
  readonly serverId: string;
  /** The source's flavour (checkpoint identity): JSON literals differ. */
  readonly flavor: Flavor;
  /** Exclusive lower bound: the last seq already in the target (e.g. the last one a backup contains). */
  readonly afterSeq: bigint;
  /** Inclusive upper bound. */
  readonly untilSeq: bigint;
  /** Which tables' row changes to replay; every table by default. */
  readonly tables?: (schema: string, table: string) => boolean;
  /** Which DDL events to replay (run with `USE schema`); every one by default. */
  readonly ddl?: (ddl: DdlRecord) => boolean;
  /** Write statements (and DDL's USE) against another schema: restore into a renamed schema. */
  readonly targetSchema?: (schema: string) => string;
  /** `all` (default): SET every column of the after image, WHERE on the full before image. */
  readonly columns?: ColumnsMode;
  /** Where definitions missing from schema history are read (the source server, when reachable). */
  readonly live?: SourceConnection;
}

export interface ReplayOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ApplyProgress) => void;
}

/** The range's transactions, generated lazily in commit order. Generation errors throw before that transaction. */
export async function* forwardTransactions(
  request: ForwardReplayRequest,
): AsyncGenerator<RecoveryTransaction> {
  const { index, serverId, afterSeq, untilSeq } = request;
  if (afterSeq > untilSeq) {
    throw new RecoverInputError(`Cannot replay changes: afterSeq ${afterSeq} is above untilSeq ${untilSeq}`, {
      fields: { afterSeq: String(afterSeq), untilSeq: String(untilSeq) },
    });
  }
  const allDdl = await readDdl(index, serverId, afterSeq, untilSeq);
  const shapes = new TableShapes(
    index,
    serverId,
    allDdl.map((d) => d.seq),
    request.live,
  );
  const ddl = request.ddl === undefined ? allDdl : allDdl.filter(request.ddl);
  const options: StatementOptions = {
    direction: 'forward',
    columns: request.columns ?? 'all',
    onConflict: 'abort',
    flavor: request.flavor,
    ...(request.targetSchema === undefined ? {} : { targetSchema: request.targetSchema }),
  };
  const toTransaction = async (group: readonly ChangeRecord[]): Promise<RecoveryTransaction> => {
    const statements: RecoveryStatement[] = [];
    for (const c of group) {
      const s = statementFor(c, await shapes.at(c.schema, c.table, c.seq), options);
      if (s !== null) statements.push(s);
    }
    const head = group[0]!;
    return {
      gtid: head.gtid,
      file: head.file,
      position: head.position,
      commitTimeUs: head.commitTimeUs,
      firstSeq: head.seq,
      lastSeq: group[group.length - 1]!.seq,
      statements,
    };
  };

  let k = 0;
  let open: ChangeRecord[] = [];
  for await (const window of streamSeqRange(index, {
    tenantId: request.tenantId,
    serverId,
    afterSeq,
    untilSeq,
  })) {
    const rows =
      request.tables === undefined ? window : window.filter((c) => request.tables!(c.schema, c.table));
    for (const group of groupTransactions(rows)) {
      const head = group[0]!;
      const sameAsOpen =
        open.length > 0 &&
        open[0]!.file === head.file &&
        open[0]!.position === head.position &&
        open[0]!.gtid === head.gtid;
      if (sameAsOpen) {
        for (const c of group) open.push(c);
        continue;
      }
      if (open.length > 0) {
        yield await toTransaction(open);
        open = [];
      }
      while (k < ddl.length && ddl[k]!.seq < head.seq) yield ddlTransaction(ddl[k++]!);
      open = [...group];
    }
  }
  if (open.length > 0) yield await toTransaction(open);
  while (k < ddl.length) yield ddlTransaction(ddl[k++]!);
}

/**
 * Replays the range on the target, committing one source transaction at a time with affected-row checks. On a
 * mismatch the failed transaction is rolled back and RecoverApplyError names the statement and the last
 * committed seq/GTID (fields `lastAppliedSeq`, `lastAppliedGtid`): resume with `afterSeq` = that seq.
 */
export function replayForward(
  target: RecoveryTarget,
  request: ForwardReplayRequest,
  options: ReplayOptions = {},
): Promise<ApplyResult> {
  return applyTransactions(target, forwardTransactions(request), {
    mode: 'each',
    onConflict: 'abort',
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(request.targetSchema === undefined ? {} : { targetSchema: request.targetSchema }),
  });
}
