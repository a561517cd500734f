import type { SourceConnection } from '../source/connect.js';
import type { ChangeIndex, ChangeRecord, ChangeType, DdlRecord } from '../store/change-index.js';
import { findConflicts, type Conflict } from './conflicts.js';
import { RecoverGenerateError } from './errors.js';
import type { Flavor } from './literal.js';
import { isClosedSelection, readDdl, readSelection, type ChangeSelection } from './select.js';
import {
  readForeignKeys,
  sameDefinition,
  tableName,
  TableShapes,
  type ForeignKeyGraph,
  type TableShape,
} from './shapes.js';
import {
  statementFor,
  type ColumnsMode,
  type ConflictPolicy,
  type Direction,
  type RecoveryStatement,
  type StatementOptions,
} from './statements.js';

/**
 * Planning: which changes, grouped by source transaction, become which statements, in which order.
 *
 * Undo runs newest first, one source transaction at a time, in reverse commit order, and within a transaction
 * in reverse binlog order; forward replay runs in commit order with DDL in place. Re-inserts put parents before
 * children (deletes children before parents) by the foreign keys read from the server, within each run of
 * statements of one kind. Every statement is generated before anything is written or applied: one that cannot be
 * generated exactly refuses the whole plan.
 */

/** One source transaction's statements, or one DDL event. */
export interface RecoveryTransaction {
  readonly gtid: string | null;
  /** Coordinates of the source transaction's first event. */
  readonly file: string;
  readonly position: number;
  readonly commitTimeUs: bigint;
  readonly firstSeq: bigint;
  readonly lastSeq: bigint;
  /** Row statements in the order they run (empty for DDL, or when every change of it was skipped). */
  readonly statements: readonly RecoveryStatement[];
  /** A DDL event (forward only): run as it is, after `USE schema` when it has one. */
  readonly ddl?: { readonly schema: string | null; readonly statement: string };
}

export interface TableCount {
  readonly schema: string;
  readonly table: string;
  readonly insert: number;
  readonly update: number;
  readonly delete: number;
}

export interface PlanSummary {
  /** Selected row changes. */
  readonly changes: number;
  readonly statements: number;
  /** Source transactions with statements, plus DDL events. */
  readonly transactions: number;
  readonly ddl: number;
  /** Per table, the captured changes by type (what is undone or replayed). */
  readonly tables: readonly TableCount[];
  readonly firstSeq: bigint | null;
  readonly lastSeq: bigint | null;
  readonly firstCommitUs: bigint | null;
  readonly lastCommitUs: bigint | null;
  /** GTIDs of the selected transactions, in commit order. */
  readonly gtids: readonly string[];
}

export interface RecoveryPlan {
  readonly serverId: string;
  readonly direction: Direction;
  readonly columns: ColumnsMode;
  readonly onConflict: ConflictPolicy;
  readonly flavor: Flavor;
  /** In execution order. */
  readonly transactions: readonly RecoveryTransaction[];
  /** Conflicts known to the index (undo only); under `skip` their statements are left out. */
  readonly conflicts: readonly Conflict[];
  readonly summary: PlanSummary;
  /** What the plan assumed: definitions read live, foreign keys unknown... */
  readonly notes: readonly string[];
}

export interface PlanDependencies {
  readonly index: ChangeIndex;
  /** Source flavour (checkpoint identity): JSON literals differ. */
  readonly flavor: Flavor;
  /** The server itself, when reachable: foreign keys, and definitions missing from schema history. */
  readonly live?: SourceConnection;
}

export interface PlanRequest {
  readonly selection: ChangeSelection;
  readonly direction: Direction;
  readonly columns?: ColumnsMode;
  readonly onConflict?: ConflictPolicy;
  /** Safety cap on the selected changes: more is refused, never truncated. */
  readonly limit?: number;
  /**
   * Forward only: replay DDL events in the selection's seq span (and time range), in place. Default: true when
   * the selection has no row-level filter (table, key, type, GTID, column), else false.
   */
  readonly includeDdl?: boolean;
  /** Write statements against another schema (restore into a renamed schema). */
  readonly targetSchema?: (schema: string) => string;
}

function emptyCounts(schema: string, table: string): { -readonly [K in keyof TableCount]: TableCount[K] } {
  return { schema, table, insert: 0, update: 0, delete: 0 };
}

/** Groups changes (in seq order) by source transaction. */
export function groupTransactions(changes: readonly ChangeRecord[]): ChangeRecord[][] {
  const out: ChangeRecord[][] = [];
  let current: ChangeRecord[] | undefined;
  for (const c of changes) {
    const head = current?.[0];
    if (head === undefined || head.file !== c.file || head.position !== c.position || head.gtid !== c.gtid) {
      current = [];
      out.push(current);
    }
    current!.push(c);
  }
  return out;
}

/**
 * Orders statements for foreign keys: within each run of consecutive INSERTs, parents first; within each run of
 * DELETEs, children first. Stable otherwise, so rows of one table keep their order.
 */
export function orderForForeignKeys(
  statements: readonly RecoveryStatement[],
  graph: ForeignKeyGraph,
): RecoveryStatement[] {
  if (graph.size === 0) return statements as RecoveryStatement[];
  const depth = new Map<string, number>();
  const depthOf = (t: string, seen: Set<string>): number => {
    const known = depth.get(t);
    if (known !== undefined) return known;
    if (seen.has(t)) return 0;
    seen.add(t);
    let d = 0;
    for (const p of graph.get(t) ?? []) d = Math.max(d, depthOf(p, seen) + 1);
    seen.delete(t);
    depth.set(t, d);
    return d;
  };
  const out: RecoveryStatement[] = [];
  let i = 0;
  while (i < statements.length) {
    const verb = statements[i]!.verb;
    let j = i;
    while (j < statements.length && statements[j]!.verb === verb) j++;
    const run = statements.slice(i, j);
    if (verb === 'INSERT' || verb === 'UPSERT' || verb === 'DELETE') {
      const sign = verb === 'DELETE' ? -1 : 1;
      const keyed = run.map((s, k) => ({ s, k, d: depthOf(tableName(s.schema, s.table), new Set()) }));
      keyed.sort((a, b) => sign * (a.d - b.d) || a.k - b.k);
      out.push(...keyed.map((x) => x.s));
    } else {
      out.push(...run);
    }
    i = j;
  }
  return out;
}

function summarize(
  changes: readonly ChangeRecord[],
  transactions: readonly RecoveryTransaction[],
  ddl: number,
): PlanSummary {
  const tables = new Map<string, ReturnType<typeof emptyCounts>>();
  const gtids: string[] = [];
  let lastGtid: string | null = null;
  let firstCommitUs: bigint | null = null;
  let lastCommitUs: bigint | null = null;
  let t: ReturnType<typeof emptyCounts> | undefined;
  for (const c of changes) {
    if (t === undefined || t.table !== c.table || t.schema !== c.schema) {
      const k = tableName(c.schema, c.table);
      t = tables.get(k);
      if (t === undefined) tables.set(k, (t = emptyCounts(c.schema, c.table)));
    }
    t[c.type satisfies ChangeType]++;
    if (c.gtid !== null && c.gtid !== lastGtid) gtids.push(c.gtid);
    lastGtid = c.gtid;
    if (firstCommitUs === null || c.commitTimeUs < firstCommitUs) firstCommitUs = c.commitTimeUs;
    if (lastCommitUs === null || c.commitTimeUs > lastCommitUs) lastCommitUs = c.commitTimeUs;
  }
  return {
    changes: changes.length,
    statements: transactions.reduce((n, t) => n + t.statements.length, 0),
    transactions: transactions.filter((t) => t.statements.length > 0 || t.ddl !== undefined).length,
    ddl,
    tables: [...tables.values()].sort((a, b) =>
      a.schema === b.schema ? (a.table < b.table ? -1 : 1) : a.schema < b.schema ? -1 : 1,
    ),
    firstSeq: changes[0]?.seq ?? null,
    lastSeq: changes[changes.length - 1]?.seq ?? null,
    firstCommitUs,
    lastCommitUs,
    gtids: [...new Set(gtids)],
  };
}

function hasRowFilter(s: ChangeSelection): boolean {
  return (
    s.table !== undefined ||
    s.pk !== undefined ||
    s.type !== undefined ||
    s.gtid !== undefined ||
    s.changedColumn !== undefined ||
    s.columnEq !== undefined
  );
}

/** Plans undo or forward replay of the selected changes. An empty selection gives an empty plan. */
export async function planRecovery(deps: PlanDependencies, request: PlanRequest): Promise<RecoveryPlan> {
  const { index, flavor, live } = deps;
  const { selection, direction } = request;
  const columns = request.columns ?? 'all';
  const onConflict = request.onConflict ?? 'abort';
  const notes: string[] = [];
  const changes = await readSelection(index, selection, request.limit);
  const includeDdl = direction === 'forward' && (request.includeDdl ?? !hasRowFilter(selection));

  const firstSeq = changes[0]?.seq;
  const lastSeq = changes[changes.length - 1]?.seq;
  let ddl: DdlRecord[] = [];
  if (firstSeq !== undefined) {
    // Undo checks every DDL up to now (a table changed since cannot take old rows); forward replays those within.
    ddl = await readDdl(index, selection.serverId, firstSeq - 1n, direction === 'undo' ? undefined : lastSeq);
  } else if (includeDdl && selection.afterSeq !== undefined) {
    ddl = await readDdl(index, selection.serverId, selection.afterSeq, selection.untilSeq);
  }
  const shapes = new TableShapes(
    index,
    selection.serverId,
    ddl.map((d) => d.seq),
    live,
  );

  let graph: ForeignKeyGraph = new Map();
  if (live !== undefined) {
    graph = await readForeignKeys(live, [...new Set(changes.map((c) => c.schema))]);
  } else if (changes.length > 0) {
    notes.push(
      'foreign keys were not read (no connection to the server): statements keep the reverse binlog order',
    );
  }

  // Undo writes old rows into the table as it is now: refuse when its definition changed in between.
  if (direction === 'undo') {
    let checked: TableShape | undefined;
    for (const c of changes) {
      const then = shapes.loaded(c.schema, c.table, c.seq) ?? (await shapes.at(c.schema, c.table, c.seq));
      if (then === checked) continue;
      const now = await shapes.latest(c.schema, c.table);
      if (!sameDefinition(then, now)) {
        const between = ddl.find((d) => d.seq > c.seq);
        throw new RecoverGenerateError(
          `Cannot undo change ${c.seq} (${c.type} of ${c.schema}.${c.table}): the table's definition changed since${
            between === undefined ? '' : ` (DDL at seq ${between.seq}: ${between.statement.slice(0, 200)})`
          }; undo the changes after it first, or restore to a point in time instead`,
          { fields: { seq: String(c.seq), schema: c.schema, table: c.table } },
        );
      }
      checked = then;
    }
  }

  const conflicts =
    direction === 'undo'
      ? await findConflicts(index, selection, changes, isClosedSelection(selection), columns)
      : new Map<bigint, Conflict>();

  const options: StatementOptions = {
    direction,
    columns,
    onConflict,
    flavor,
    ...(request.targetSchema === undefined ? {} : { targetSchema: request.targetSchema }),
  };
  const groups = groupTransactions(changes);
  // The counts need every change; after that each group is released as soon as its statements exist, so a long
  // plan does not hold every row image and every statement at once.
  const counted = summarize(changes, [], 0);
  changes.length = 0;
  let transactions: RecoveryTransaction[] = [];
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g]!;
    const statements: RecoveryStatement[] = [];
    const ordered = direction === 'undo' ? [...group].reverse() : group;
    for (const c of ordered) {
      if (onConflict === 'skip' && conflicts.has(c.seq)) continue;
      const shape = shapes.loaded(c.schema, c.table, c.seq) ?? (await shapes.at(c.schema, c.table, c.seq));
      const s = statementFor(c, shape, options);
      if (s !== null) statements.push(s);
    }
    const head = group[0]!;
    transactions.push({
      gtid: head.gtid,
      file: head.file,
      position: head.position,
      commitTimeUs: head.commitTimeUs,
      firstSeq: head.seq,
      lastSeq: group[group.length - 1]!.seq,
      statements: orderForForeignKeys(statements, graph),
    });
    groups[g] = [];
  }

  let ddlCount = 0;
  if (includeDdl) {
    const wanted = ddl.filter(
      (d) =>
        (selection.schema === undefined || d.schema === selection.schema) &&
        (selection.sinceUs === undefined || d.commitTimeUs >= selection.sinceUs) &&
        (selection.untilUs === undefined || d.commitTimeUs < selection.untilUs) &&
        (selection.untilSeq === undefined || d.seq <= selection.untilSeq),
    );
    ddlCount = wanted.length;
    const merged: RecoveryTransaction[] = [];
    let k = 0;
    for (const t of transactions) {
      while (k < wanted.length && wanted[k]!.seq < t.firstSeq) merged.push(ddlTransaction(wanted[k++]!));
      merged.push(t);
    }
    while (k < wanted.length) merged.push(ddlTransaction(wanted[k++]!));
    transactions = merged;
  }
  if (direction === 'undo') transactions.reverse();
  for (const t of shapes.liveFallbacks) {
    notes.push(
      `the definition of ${t} was read from the server (schema history lacks it), not as of each change`,
    );
  }

  return {
    serverId: selection.serverId,
    direction,
    columns,
    onConflict,
    flavor,
    transactions,
    conflicts: [...conflicts.values()].sort((a, b) => (a.seq < b.seq ? 1 : a.seq > b.seq ? -1 : 0)),
    summary: {
      ...counted,
      statements: transactions.reduce((n, t) => n + t.statements.length, 0),
      transactions: transactions.filter((t) => t.statements.length > 0 || t.ddl !== undefined).length,
      ddl: ddlCount,
    },
    notes,
  };
}

export function ddlTransaction(d: DdlRecord): RecoveryTransaction {
  return {
    gtid: d.gtid,
    file: d.file,
    position: d.position,
    commitTimeUs: d.commitTimeUs,
    firstSeq: d.seq,
    lastSeq: d.seq,
    statements: [],
    ddl: { schema: d.schema, statement: d.statement },
  };
}
