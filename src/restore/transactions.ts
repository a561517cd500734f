import type { ChangeIndex, ChangeRecord, DdlRecord } from '../store/change-index.js';
import { MAX_CHANGE_QUERY_LIMIT } from '../store/change-index.js';

/**
 * One source transaction as replay sees it: its row changes in binlog order, or one DDL statement, with the
 * coordinates of its first event. Transactions are ordered by seq, which is binlog (commit) order.
 */
export interface ReplayTransaction {
  readonly firstSeq: bigint;
  readonly lastSeq: bigint;
  readonly gtid: string | null;
  readonly file: string;
  readonly position: number;
  readonly commitTimeUs: bigint;
  readonly changes: readonly ChangeRecord[];
  readonly ddl: DdlRecord | null;
}

export interface LoadScope {
  readonly tenantId: string;
  readonly serverId: string;
  /**
   * Only row changes committed at or after this instant are read. The caller passes a bound well before the
   * backup, since binlog order and commit-time order can differ by the length of a transaction.
   */
  readonly sinceUs?: bigint;
}

/**
 * Every transaction of a server from `sinceUs` on, in seq order. The change index pages in commit-time order, so
 * the pages are merged into seq order here (held in memory: a restore range, not the whole history).
 */
export async function loadTransactions(
  index: Pick<ChangeIndex, 'query' | 'ddl'>,
  scope: LoadScope,
): Promise<ReplayTransaction[]> {
  const rows: ChangeRecord[] = [];
  let afterSeq: bigint | undefined;
  for (;;) {
    const page = await index.query({
      tenantId: scope.tenantId,
      serverId: scope.serverId,
      order: 'asc',
      limit: MAX_CHANGE_QUERY_LIMIT,
      ...(scope.sinceUs !== undefined ? { sinceUs: scope.sinceUs } : {}),
      ...(afterSeq !== undefined ? { afterSeq } : {}),
    });
    for (const r of page) rows.push(r);
    if (page.length < MAX_CHANGE_QUERY_LIMIT) break;
    afterSeq = (page[page.length - 1] as ChangeRecord).seq;
  }
  const ddl: DdlRecord[] = [];
  let ddlAfter: bigint | undefined;
  for (;;) {
    const page = await index.ddl(scope.serverId, {
      limit: MAX_CHANGE_QUERY_LIMIT,
      ...(ddlAfter !== undefined ? { afterSeq: ddlAfter } : {}),
    });
    // DDL is rare: all of it is read, and the planner cuts it by coordinates like the row changes.
    for (const d of page) ddl.push(d);
    if (page.length < MAX_CHANGE_QUERY_LIMIT) break;
    ddlAfter = (page[page.length - 1] as DdlRecord).seq;
  }
  return groupTransactions(rows, ddl);
}

/** Groups row changes into transactions (by the coordinates of their first event) and merges DDL, in seq order. */
export function groupTransactions(
  rows: readonly ChangeRecord[],
  ddl: readonly DdlRecord[],
): ReplayTransaction[] {
  const sorted = [...rows].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  const out: ReplayTransaction[] = [];
  let current: { key: string; changes: ChangeRecord[] } | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const first = current.changes[0] as ChangeRecord;
    const last = current.changes[current.changes.length - 1] as ChangeRecord;
    out.push({
      firstSeq: first.seq,
      lastSeq: last.seq,
      gtid: first.gtid,
      file: first.file,
      position: first.position,
      commitTimeUs: first.commitTimeUs,
      changes: current.changes,
      ddl: null,
    });
    current = undefined;
  };
  for (const r of sorted) {
    const key = `${r.file}:${r.position}`;
    if (current === undefined || current.key !== key) {
      flush();
      current = { key, changes: [] };
    }
    current.changes.push(r);
  }
  flush();
  for (const d of ddl) {
    out.push({
      firstSeq: d.seq,
      lastSeq: d.seq,
      gtid: d.gtid,
      file: d.file,
      position: d.position,
      commitTimeUs: d.commitTimeUs,
      changes: [],
      ddl: d,
    });
  }
  return out.sort((a, b) => (a.firstSeq < b.firstSeq ? -1 : a.firstSeq > b.firstSeq ? 1 : 0));
}
