import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeIndex, ChangeRecord, ChangeType } from '../store/change-index.js';
import { MAX_CHANGE_QUERY_LIMIT } from '../store/change-index.js';
import { clashes, later, rowKey, type Conflict } from './conflicts.js';
import { RecoverGenerateError, RecoverLimitError } from './errors.js';
import {
  groupTransactions,
  orderForForeignKeys,
  type PlanDependencies,
  type PlanRequest,
  type RecoveryPlan,
  type RecoveryTransaction,
  type TableCount,
} from './plan.js';
import {
  ndjsonHead,
  ndjsonTransaction,
  sqlHead,
  sqlTail,
  sqlTransactionChunk,
  type RenderOptions,
} from './render.js';
import { baseQuery, bySeq, isClosedSelection, readDdl, type ChangeSelection } from './select.js';
import { readForeignKeys, sameDefinition, tableName, TableShapes, type TableShape } from './shapes.js';
import { keyAfter, statementFor, type RecoveryStatement, type StatementOptions } from './statements.js';

/**
 * Streaming undo scripts: the same script (or NDJSON) as planRecovery + sqlChunks/ndjsonChunks, generated with
 * bounded memory for closed selections (see isClosedSelection), which is what undoing "everything since T" is.
 *
 * The selection is read backwards by seq, a window at a time, and each source transaction is turned into its
 * statements and rendered as soon as it is whole (a transaction cut by a window boundary waits for the next
 * window). Only what ordering and conflicts need is kept: the summary counts, the GTID list, the conflicts, and
 * for rows that have a later unselected change (stragglers, rare) the changes that block them.
 *
 * The header states totals known only at the end (counts, statements, conflicts, notes), so the body is spooled
 * to a private temporary file and the script is head + body + tail. A counting pass first would read and parse
 * every change twice, and reading and parsing is most of the cost; the spool costs one sequential write and read
 * of the body. It also keeps the "nothing half-written" rule: a refusal found late (a definition that changed, a
 * change that cannot be generated exactly, --limit) leaves nothing behind.
 */

/** Seqs read per window when paging backwards. */
// Small enough that a window's rows mostly die young (a 20k window measured ~10% more CPU, mostly GC, and 50%
// more peak RSS); large enough that the per-query cost stays small.
export const UNDO_WINDOW = 5_000n;
const FLUSH_BYTES = 1 << 20;

export type ScriptFormat = 'sql' | 'ndjson';

export interface SpooledScript {
  /** The plan without its transactions (they are in the spool): summary, conflicts and notes are complete. */
  readonly plan: RecoveryPlan;
  /** The whole script: head, the spooled body, tail. */
  chunks(options: RenderOptions): AsyncGenerator<string | Uint8Array>;
  /** Removes the spool. */
  close(): void;
}

/** Whether spoolUndoScript can take this request (else use planRecovery). */
export function canSpool(request: PlanRequest): boolean {
  return request.direction === 'undo' && isClosedSelection(request.selection);
}

type Counts = { -readonly [K in keyof TableCount]: TableCount[K] };

/** An entry of a row key's later-change list: an unselected change, or a selected one that is itself blocked. */
interface Blocker {
  readonly seq: bigint;
  readonly change?: ChangeRecord;
  readonly conflict?: Conflict;
}

/**
 * The lowest seq of a closed selection (null when it is empty). Commit times are not monotonic in seq, so the
 * change with the earliest commit time is only a first guess; lower seqs are then looked for until there is none.
 */
async function firstSelectedSeq(index: ChangeIndex, selection: ChangeSelection): Promise<bigint | null> {
  const base = baseQuery(selection);
  const after = selection.afterSeq ?? 0n;
  const [first] = await index.query({ ...base, seqRange: { after }, limit: 1, order: 'asc' });
  if (first === undefined) return null;
  let min = first.seq;
  for (;;) {
    if (min - 1n <= after) return min;
    // Without a lower seq bound, the time index from sinceUs reads only selected changes' index entries; with
    // one, the seq index reads just the span between the bounds.
    const seqRange = selection.afterSeq === undefined ? { until: min - 1n } : { after, until: min - 1n };
    const [lower] = await index.query({ ...base, seqRange, limit: 1 });
    if (lower === undefined) return min;
    min = lower.seq;
  }
}

/** Changes with a seq above `firstSeq` committed before sinceUs: the only later changes a closed selection misses. */
async function stragglers(
  index: ChangeIndex,
  selection: ChangeSelection,
  firstSeq: bigint,
): Promise<Map<string, Blocker[]>> {
  const byKey = new Map<string, Blocker[]>();
  if (selection.sinceUs === undefined) return byKey;
  let after: bigint | undefined;
  for (;;) {
    const page = await index.query({
      tenantId: selection.tenantId,
      serverId: selection.serverId,
      ...(selection.schema === undefined ? {} : { schema: selection.schema }),
      ...(selection.table === undefined ? {} : { table: selection.table }),
      untilUs: selection.sinceUs,
      seqRange: { after: firstSeq },
      limit: MAX_CHANGE_QUERY_LIMIT,
      ...(after === undefined ? {} : { afterSeq: after }),
    });
    for (const r of page) {
      const k = rowKey(r.schema, r.table, r.pk);
      let list = byKey.get(k);
      if (list === undefined) byKey.set(k, (list = []));
      list.push({ seq: r.seq, change: r });
    }
    if (page.length < MAX_CHANGE_QUERY_LIMIT) break;
    after = page[page.length - 1]!.seq;
  }
  for (const list of byKey.values()) list.sort(bySeq);
  return byKey;
}

/**
 * Generates the undo of a closed selection into a spool, newest transaction first. Same refusals as planRecovery
 * (a definition changed since a change, a change that cannot be undone exactly, more than `limit` changes).
 */
export async function spoolUndoScript(
  deps: PlanDependencies,
  request: PlanRequest,
  format: ScriptFormat,
  window: bigint = UNDO_WINDOW,
): Promise<SpooledScript> {
  if (!canSpool(request)) throw new Error('spoolUndoScript takes undo of a closed selection only');
  const { index, flavor, live } = deps;
  const { selection } = request;
  const columns = request.columns ?? 'all';
  const onConflict = request.onConflict ?? 'abort';
  const force = onConflict === 'force';
  const dir = mkdtempSync(join(tmpdir(), 'dbtrail-recover-'));
  const bodyPath = join(dir, 'body');
  let fd: number | undefined = openSync(bodyPath, 'w', 0o600);
  const close = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let buffered = '';
    const emit = (chunk: string) => {
      buffered += chunk;
      if (buffered.length >= FLUSH_BYTES) {
        writeSync(fd!, buffered);
        buffered = '';
      }
    };

    // Without sinceUs the lower seq bound is exact already (and there are no stragglers): no need to look.
    const firstSeq =
      selection.sinceUs === undefined
        ? (selection.afterSeq ?? 0n) + 1n
        : await firstSelectedSeq(index, selection);
    const lastSeq = (await index.stats(selection.serverId)).lastSeq;
    const ddl = firstSeq === null ? [] : await readDdl(index, selection.serverId, firstSeq - 1n, undefined);
    const shapes = new TableShapes(
      index,
      selection.serverId,
      ddl.map((d) => d.seq),
      live,
    );
    const blockers =
      firstSeq === null ? new Map<string, Blocker[]>() : await stragglers(index, selection, firstSeq);
    const options: StatementOptions = {
      direction: 'undo',
      columns,
      onConflict,
      flavor,
      ...(request.targetSchema === undefined ? {} : { targetSchema: request.targetSchema }),
    };

    const graph = new Map<string, Set<string>>();
    const fkSchemas = new Set<string>();
    const tables = new Map<string, Counts>();
    const conflicts = new Map<bigint, Conflict>();
    const verified = new Set<TableShape>();
    // GTIDs of the groups, newest first (reversed at the end).
    const groupGtids: (string | null)[] = [];
    let changes = 0;
    let statements = 0;
    let transactions = 0;
    let minCommit: bigint | null = null;
    let maxCommit: bigint | null = null;
    let minSeq: bigint | null = null;
    let maxSeq: bigint | null = null;
    // The lowest change whose table definition changed since: reported after the scan, like planRecovery does.
    let changedDefinition: { c: ChangeRecord } | undefined;

    const conflictOf = (c: ChangeRecord): Conflict | undefined => {
      const keys = new Set<string>();
      const after = keyAfter(c);
      if (after !== null) keys.add(after);
      if (c.type !== 'insert') keys.add(c.pk);
      for (const key of keys) {
        for (const b of blockers.get(rowKey(c.schema, c.table, key)) ?? []) {
          if (b.seq <= c.seq) continue;
          const here = { seq: c.seq, schema: c.schema, table: c.table, type: c.type, pk: c.pk };
          if (b.conflict !== undefined) return { ...here, later: b.conflict.later };
          if (clashes(c, b.change!, columns)) return { ...here, later: later(b.change!) };
        }
      }
      return undefined;
    };

    const processGroup = async (group: readonly ChangeRecord[]): Promise<void> => {
      let t: Counts | undefined;
      for (const c of group) {
        changes++;
        if (request.limit !== undefined && changes > request.limit) {
          throw new RecoverLimitError(
            `Cannot recover: more than ${request.limit} changes match (--limit ${request.limit} is a safety cap, never a truncation); narrow the selection or raise --limit`,
            { fields: { limit: request.limit } },
          );
        }
        if (t === undefined || t.table !== c.table || t.schema !== c.schema) {
          const k = tableName(c.schema, c.table);
          t = tables.get(k);
          if (t === undefined)
            tables.set(k, (t = { schema: c.schema, table: c.table, insert: 0, update: 0, delete: 0 }));
        }
        t[c.type satisfies ChangeType]++;
        if (minCommit === null || c.commitTimeUs < minCommit) minCommit = c.commitTimeUs;
        if (maxCommit === null || c.commitTimeUs > maxCommit) maxCommit = c.commitTimeUs;
        if (minSeq === null || c.seq < minSeq) minSeq = c.seq;
        if (maxSeq === null || c.seq > maxSeq) maxSeq = c.seq;
        // Undo writes old rows into the table as it is now: refuse when its definition changed in between.
        const then = shapes.loaded(c.schema, c.table, c.seq) ?? (await shapes.at(c.schema, c.table, c.seq));
        if (!verified.has(then)) {
          if (sameDefinition(then, await shapes.latest(c.schema, c.table))) verified.add(then);
          else if (changedDefinition === undefined || c.seq < changedDefinition.c.seq)
            changedDefinition = { c };
        }
      }
      const head = group[0]!;
      groupGtids.push(head.gtid);
      // Once the plan is refused, only the scan for the lowest refused change goes on.
      if (changedDefinition !== undefined) return;

      const ordered = [...group].reverse();
      if (blockers.size > 0) {
        for (const c of ordered) {
          const found = conflictOf(c);
          if (found === undefined) continue;
          conflicts.set(c.seq, found);
          const k = rowKey(c.schema, c.table, c.pk);
          let list = blockers.get(k);
          if (list === undefined) blockers.set(k, (list = []));
          list.push({ seq: c.seq, conflict: found });
          list.sort(bySeq);
        }
      }
      if (live !== undefined) {
        for (const c of group) {
          if (fkSchemas.has(c.schema)) continue;
          fkSchemas.add(c.schema);
          for (const [child, parents] of await readForeignKeys(live, [c.schema])) {
            let mine = graph.get(child);
            if (mine === undefined) graph.set(child, (mine = new Set()));
            for (const p of parents) mine.add(p);
          }
        }
      }
      const list: RecoveryStatement[] = [];
      for (const c of ordered) {
        if (onConflict === 'skip' && conflicts.has(c.seq)) continue;
        const shape = shapes.loaded(c.schema, c.table, c.seq) ?? (await shapes.at(c.schema, c.table, c.seq));
        const s = statementFor(c, shape, options);
        if (s !== null) list.push(s);
      }
      if (list.length === 0) return;
      const tx: RecoveryTransaction = {
        gtid: head.gtid,
        file: head.file,
        position: head.position,
        commitTimeUs: head.commitTimeUs,
        firstSeq: head.seq,
        lastSeq: group[group.length - 1]!.seq,
        statements: orderForForeignKeys(list, graph),
      };
      statements += list.length;
      transactions++;
      emit(format === 'sql' ? sqlTransactionChunk(tx, force, false) : ndjsonTransaction(tx));
    };

    if (firstSeq !== null) {
      const query = baseQuery(selection);
      // The lowest transaction of a window may go on below it: it waits for the next window.
      let carry: ChangeRecord[] = [];
      const lo = firstSeq - 1n;
      for (let hi = lastSeq; hi > lo; hi -= window) {
        const from = hi - window > lo ? hi - window : lo;
        const page = await index.query({
          ...query,
          seqRange: { after: from, until: hi },
          limit: Number(window),
        });
        if (page.length === 0) continue;
        const groups = groupTransactions([...page].sort(bySeq));
        const top = groups[groups.length - 1]!;
        const carried = carry[0];
        if (carried !== undefined) {
          const h = top[0]!;
          if (h.file === carried.file && h.position === carried.position && h.gtid === carried.gtid) {
            for (const c of carry) top.push(c);
          } else {
            await processGroup(carry);
          }
        }
        for (let g = groups.length - 1; g > 0; g--) {
          await processGroup(groups[g]!);
          groups[g] = [];
        }
        carry = groups[0]!;
      }
      if (carry.length > 0) await processGroup(carry);
    }
    writeSync(fd, buffered);
    closeSync(fd);
    fd = undefined;

    if (changedDefinition !== undefined) {
      const { c } = changedDefinition;
      const between = ddl.find((d) => d.seq > c.seq);
      throw new RecoverGenerateError(
        `Cannot undo change ${c.seq} (${c.type} of ${c.schema}.${c.table}): the table's definition changed since${
          between === undefined ? '' : ` (DDL at seq ${between.seq}: ${between.statement.slice(0, 200)})`
        }; undo the changes after it first, or restore to a point in time instead`,
        { fields: { seq: String(c.seq), schema: c.schema, table: c.table } },
      );
    }

    const gtids: string[] = [];
    let lastGtid: string | null = null;
    for (let i = groupGtids.length - 1; i >= 0; i--) {
      const g = groupGtids[i]!;
      if (g !== null && g !== lastGtid) gtids.push(g);
      lastGtid = g;
    }
    const notes: string[] = [];
    if (live === undefined && changes > 0) {
      notes.push(
        'foreign keys were not read (no connection to the server): statements keep the reverse binlog order',
      );
    }
    for (const t of shapes.liveFallbacks) {
      notes.push(
        `the definition of ${t} was read from the server (schema history lacks it), not as of each change`,
      );
    }
    const plan: RecoveryPlan = {
      serverId: selection.serverId,
      direction: 'undo',
      columns,
      onConflict,
      flavor,
      transactions: [],
      conflicts: [...conflicts.values()].sort((a, b) => (a.seq < b.seq ? 1 : a.seq > b.seq ? -1 : 0)),
      summary: {
        changes,
        statements,
        transactions,
        ddl: 0,
        tables: [...tables.values()].sort((a, b) =>
          a.schema === b.schema ? (a.table < b.table ? -1 : 1) : a.schema < b.schema ? -1 : 1,
        ),
        firstSeq: minSeq,
        lastSeq: maxSeq,
        firstCommitUs: minCommit,
        lastCommitUs: maxCommit,
        gtids: [...new Set(gtids)],
      },
      notes,
    };
    return {
      plan,
      async *chunks(renderOptions: RenderOptions) {
        yield format === 'sql' ? sqlHead(plan, renderOptions, false) : ndjsonHead(plan, renderOptions);
        for await (const chunk of createReadStream(bodyPath, { highWaterMark: FLUSH_BYTES })) {
          yield chunk as Buffer;
        }
        if (format === 'sql') yield sqlTail(false);
      },
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}
