import {
  MAX_CHANGE_QUERY_LIMIT,
  type ChangeIndex,
  type ChangeQuery,
  type ChangeRecord,
  type ChangeType,
  type DdlRecord,
} from '../store/change-index.js';
import { RecoverLimitError } from './errors.js';

/**
 * Reading changes from the index for recovery, always in seq order (binlog order). Commit times are not
 * monotonic in the binlog (a transaction's time is when its statement started), so the time-ordered query pages
 * are re-sorted by seq, and seq ranges are read a window at a time.
 */

/** Which changes to undo or replay: the filters of `query`, plus exact bounds in binlog order. */
export interface ChangeSelection {
  readonly tenantId: string;
  readonly serverId: string;
  readonly schema?: string;
  readonly table?: string;
  /** Canonical PK text (see `pkText`). */
  readonly pk?: string;
  readonly sinceUs?: bigint;
  readonly untilUs?: bigint;
  readonly type?: ChangeType;
  readonly gtid?: string;
  readonly changedColumn?: string;
  readonly columnEq?: ChangeQuery['columnEq'];
  /** Only changes after this seq (exclusive): `--after-gtid`, `--after-position`, a backup's coordinates. */
  readonly afterSeq?: bigint;
  /** Only changes up to this seq (inclusive). */
  readonly untilSeq?: bigint;
}

/**
 * Whether every later change of a selected row is selected too, unless it committed before `sinceUs` (possible
 * only because commit times are not monotonic): only schema, table, since and a lower seq bound narrow it.
 */
export function isClosedSelection(s: ChangeSelection): boolean {
  return (
    s.pk === undefined &&
    s.untilUs === undefined &&
    s.type === undefined &&
    s.gtid === undefined &&
    s.changedColumn === undefined &&
    s.columnEq === undefined &&
    s.untilSeq === undefined
  );
}

export function bySeq(a: { seq: bigint }, b: { seq: bigint }): number {
  return a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
}

export function baseQuery(s: ChangeSelection): ChangeQuery {
  const seqRange =
    s.afterSeq === undefined && s.untilSeq === undefined
      ? undefined
      : {
          ...(s.afterSeq === undefined ? {} : { after: s.afterSeq }),
          ...(s.untilSeq === undefined ? {} : { until: s.untilSeq }),
        };
  return {
    tenantId: s.tenantId,
    serverId: s.serverId,
    ...(s.schema === undefined ? {} : { schema: s.schema }),
    ...(s.table === undefined ? {} : { table: s.table }),
    ...(s.pk === undefined ? {} : { pk: s.pk }),
    ...(s.sinceUs === undefined ? {} : { sinceUs: s.sinceUs }),
    ...(s.untilUs === undefined ? {} : { untilUs: s.untilUs }),
    ...(s.type === undefined ? {} : { type: s.type }),
    ...(s.gtid === undefined ? {} : { gtid: s.gtid }),
    ...(s.changedColumn === undefined ? {} : { changedColumn: s.changedColumn }),
    ...(s.columnEq === undefined ? {} : { columnEq: s.columnEq }),
    ...(seqRange === undefined ? {} : { seqRange }),
  };
}

/**
 * Every selected change, in seq order. With `limit`, more than `limit` matching changes is refused (never
 * silently truncated to the oldest, nor to the newest).
 */
export async function readSelection(
  index: ChangeIndex,
  selection: ChangeSelection,
  limit?: number,
): Promise<ChangeRecord[]> {
  const out: ChangeRecord[] = [];
  const query = baseQuery(selection);
  let after: bigint | undefined;
  for (;;) {
    const page = await index.query({
      ...query,
      limit: MAX_CHANGE_QUERY_LIMIT,
      order: 'asc',
      ...(after === undefined ? {} : { afterSeq: after }),
    });
    for (const r of page) out.push(r);
    if (limit !== undefined && out.length > limit) {
      throw new RecoverLimitError(
        `Cannot recover: more than ${limit} changes match (--limit ${limit} is a safety cap, never a truncation); narrow the selection or raise --limit`,
        { fields: { limit } },
      );
    }
    if (page.length < MAX_CHANGE_QUERY_LIMIT) break;
    after = page[page.length - 1]!.seq;
  }
  return out.sort(bySeq);
}

/** DDL events with afterSeq < seq <= untilSeq (untilSeq open when omitted), in seq order. */
export async function readDdl(
  index: ChangeIndex,
  serverId: string,
  afterSeq: bigint,
  untilSeq: bigint | undefined,
): Promise<DdlRecord[]> {
  const out: DdlRecord[] = [];
  let after = afterSeq;
  for (;;) {
    const page = await index.ddl(serverId, {
      afterSeq: after,
      ...(untilSeq === undefined ? {} : { untilSeq }),
      limit: MAX_CHANGE_QUERY_LIMIT,
    });
    for (const d of page) out.push(d);
    if (page.length < MAX_CHANGE_QUERY_LIMIT) break;
    after = page[page.length - 1]!.seq;
  }
  return out;
}

/** Rows read per window when streaming a seq range. */
export const SEQ_WINDOW = 20_000n;

/**
 * The changes with afterSeq < seq <= untilSeq in seq order, a window at a time (memory stays bounded however
 * long the range), narrowed by the selection's other filters.
 */
export async function* streamSeqRange(
  index: ChangeIndex,
  selection: ChangeSelection & { readonly afterSeq: bigint; readonly untilSeq: bigint },
  window: bigint = SEQ_WINDOW,
): AsyncGenerator<ChangeRecord[]> {
  const query = baseQuery(selection);
  for (let lo = selection.afterSeq; lo < selection.untilSeq; lo += window) {
    const hi = lo + window < selection.untilSeq ? lo + window : selection.untilSeq;
    // A window of W seqs holds at most W changes, so one page reads it whole.
    const page = await index.query({
      ...query,
      seqRange: { after: lo, until: hi },
      limit: Number(window < BigInt(MAX_CHANGE_QUERY_LIMIT) ? window : BigInt(MAX_CHANGE_QUERY_LIMIT)),
    });
    if (page.length > 0) yield [...page].sort(bySeq);
  }
}
