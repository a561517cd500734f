import {
  MAX_CHANGE_QUERY_LIMIT,
  type ChangeIndex,
  type ChangeRecord,
  type ChangeType,
} from '../store/change-index.js';
import { bySeq, type ChangeSelection } from './select.js';
import { keyAfter, type ColumnsMode } from './statements.js';

export { keyAfter };

/**
 * Conflicts known to the index: a row to undo was changed later by a change that is not undone with it. Such a
 * row is not what the undone change left behind, so its undo statement would match nothing (or, forced,
 * overwrite the later change). Each conflict names the later change, so the DBA can judge it.
 *
 * The server may hold later changes the index does not (after the checkpoint, or outside capture); applying
 * finds those by the statements' WHERE, and reports them as conflicts without a later change.
 */
export interface LaterChange {
  readonly seq: bigint;
  readonly type: ChangeType;
  readonly gtid: string | null;
  readonly file: string;
  readonly position: number;
  readonly commitTimeUs: bigint;
}

export interface Conflict {
  /** The change that cannot be undone cleanly. */
  readonly seq: bigint;
  readonly schema: string;
  readonly table: string;
  readonly type: ChangeType;
  readonly pk: string;
  /** The later change that caused it; null when only the server knew (found while applying). */
  readonly later: LaterChange | null;
}

export function later(r: ChangeRecord): LaterChange {
  return {
    seq: r.seq,
    type: r.type,
    gtid: r.gtid,
    file: r.file,
    position: r.position,
    commitTimeUs: r.commitTimeUs,
  };
}

export function rowKey(schema: string, table: string, pk: string): string {
  return `${schema}\u0000${table}\u0000${pk}`;
}

/** Whether a later change `l` undoes the premise of undoing `c` (in the given columns mode). */
export function clashes(c: ChangeRecord, l: ChangeRecord, columns: ColumnsMode): boolean {
  if (columns === 'all' || c.type !== 'update' || l.type !== 'update') return true;
  if (keyAfter(l) !== l.pk) return true;
  const mine = new Set(c.changedColumns ?? []);
  return (l.changedColumns ?? []).some((n) => mine.has(n));
}

/**
 * Finds the conflicts of undoing `selected` (in seq order). With a closed selection (see isClosedSelection) the
 * only unselected later changes are those committed before `sinceUs` with a higher seq, read in one query;
 * otherwise every touched key is looked up in the index.
 */
export async function findConflicts(
  index: ChangeIndex,
  selection: ChangeSelection,
  selected: readonly ChangeRecord[],
  closed: boolean,
  columns: ColumnsMode,
): Promise<Map<bigint, Conflict>> {
  const conflicts = new Map<bigint, Conflict>();
  if (selected.length === 0) return conflicts;
  const chosen = new Set(selected.map((c) => c.seq));
  const minSeq = selected[0]!.seq;

  // Changes of each row key after minSeq, selected or not, in seq order.
  const byKey = new Map<string, ChangeRecord[]>();
  const add = (r: ChangeRecord) => {
    const k = rowKey(r.schema, r.table, r.pk);
    let list = byKey.get(k);
    if (list === undefined) byKey.set(k, (list = []));
    list.push(r);
  };
  const looked = new Set<string>();
  if (closed) {
    // The only later changes not selected: those committed before sinceUs with a higher seq (commit times are
    // not monotonic). Without any, every later change of a selected row is undone first: no conflict.
    const stragglers: ChangeRecord[] = [];
    if (selection.sinceUs !== undefined) {
      let after: bigint | undefined;
      for (;;) {
        const page = await index.query({
          tenantId: selection.tenantId,
          serverId: selection.serverId,
          ...(selection.schema === undefined ? {} : { schema: selection.schema }),
          ...(selection.table === undefined ? {} : { table: selection.table }),
          untilUs: selection.sinceUs,
          seqRange: { after: minSeq },
          limit: MAX_CHANGE_QUERY_LIMIT,
          ...(after === undefined ? {} : { afterSeq: after }),
        });
        for (const r of page) stragglers.push(r);
        if (page.length < MAX_CHANGE_QUERY_LIMIT) break;
        after = page[page.length - 1]!.seq;
      }
    }
    if (stragglers.length === 0) return conflicts;
    for (const r of selected) add(r);
    for (const r of stragglers) add(r);
    for (const list of byKey.values()) list.sort(bySeq);
  }
  const changesOf = async (schema: string, table: string, pk: string): Promise<readonly ChangeRecord[]> => {
    const k = rowKey(schema, table, pk);
    if (!closed && !looked.has(k)) {
      looked.add(k);
      const found: ChangeRecord[] = [];
      let after: bigint | undefined;
      for (;;) {
        const page = await index.query({
          tenantId: selection.tenantId,
          serverId: selection.serverId,
          schema,
          table,
          pk,
          seqRange: { after: minSeq - 1n },
          limit: MAX_CHANGE_QUERY_LIMIT,
          ...(after === undefined ? {} : { afterSeq: after }),
        });
        for (const r of page) found.push(r);
        if (page.length < MAX_CHANGE_QUERY_LIMIT) break;
        after = page[page.length - 1]!.seq;
      }
      byKey.set(k, found.sort(bySeq));
    }
    return byKey.get(k) ?? [];
  };

  // Newest first, so that a conflict of a later selected change carries over to the earlier ones it blocks.
  for (let i = selected.length - 1; i >= 0; i--) {
    const c = selected[i]!;
    const keys = new Set<string>();
    const after = keyAfter(c);
    if (after !== null) keys.add(after);
    // A re-insert (undo of a delete) or an update back to an old key needs the old key free.
    if (c.type !== 'insert') keys.add(c.pk);
    let found: Conflict | undefined;
    for (const key of keys) {
      for (const l of await changesOf(c.schema, c.table, key)) {
        if (l.seq <= c.seq) continue;
        if (chosen.has(l.seq)) {
          const blocked = conflicts.get(l.seq);
          if (blocked !== undefined) {
            found = {
              seq: c.seq,
              schema: c.schema,
              table: c.table,
              type: c.type,
              pk: c.pk,
              later: blocked.later,
            };
            break;
          }
          continue;
        }
        if (!clashes(c, l, columns)) continue;
        found = { seq: c.seq, schema: c.schema, table: c.table, type: c.type, pk: c.pk, later: later(l) };
        break;
      }
      if (found !== undefined) break;
    }
    if (found !== undefined) conflicts.set(c.seq, found);
  }
  return conflicts;
}
