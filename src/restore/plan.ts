import { segmentsCovering, type ArchiveTarget } from '../archive/fetch.js';
import { compareCoordinates } from '../capture/coordinates.js';
import { isDbtrailError, messageOf } from '../lib/errors.js';
import type { BinlogArchiveRepository, BinlogSegment } from '../store/binlog-archive.js';
import type { BackupCatalog, BackupRecord, Coordinates } from '../store/catalog.js';
import type { ChangeIndex, Gap } from '../store/change-index.js';
import { RestorePlanError } from './errors.js';
import { describeTarget, isoUs, mariadbGtid, mariadbGtidPos, type RestoreTarget } from './target.js';
import { loadTransactions, type ReplayTransaction } from './transactions.js';

/**
 * Point-in-time restore planning: which backup to load and which captured transactions to replay on top of it.
 *
 * The backup is the newest successful one at or before the target whose coordinates are continuously covered by
 * the change index up to the target: capture ran at the backup's coordinates, no gap lies between them and the
 * target, and the checkpoint has reached the target. Transactions already in the dump are recognised by their
 * coordinates: a dump's coordinates are the binlog position right after the last transaction it contains, so
 * every transaction that starts at or after them is replayed, and none before.
 */
export interface PlanRequest {
  readonly tenantId: string;
  readonly serverId: string;
  readonly serverName: string;
  readonly target: RestoreTarget;
  /** Use this backup (full id) rather than choosing one. */
  readonly backupId?: string;
  /** Replay only transactions at or after these coordinates (resuming a restore whose load is done). */
  readonly resumeFrom?: { readonly file: string; readonly position: number };
}

export interface PklessTable {
  readonly table: string;
  readonly rowChanges: number;
}

export interface RestorePlan {
  readonly serverName: string;
  readonly target: RestoreTarget;
  readonly backup: BackupRecord;
  readonly backupCoordinates: Coordinates;
  /** The transactions to replay, in binlog order (row-change transactions and DDL). */
  readonly transactions: readonly ReplayTransaction[];
  readonly rowChanges: number;
  readonly ddlEvents: number;
  /** Where replay stops: the first transaction not replayed, or the checkpoint when all are. */
  readonly stopAt: { readonly file: string; readonly position: number; readonly gtid: string | null };
  /** The state reached, in time: the commit time of the last transaction replayed (or the backup's). */
  readonly lastCommitTimeUs: bigint | null;
  /** Row changes on tables without a primary key, per table: they cost an index lookup or a scan each. */
  readonly pklessTables: readonly PklessTable[];
  /** Backups considered and refused, newest first, with the reason. */
  readonly refused: readonly { readonly backupId: string; readonly reason: string }[];
  /**
   * Set when the change index cannot serve the range but the raw binlog archive can: replay is then
   * `mariadb-binlog --start-position=<backup GTIDs> [stop] SEGMENTS... | mariadb`, and `transactions` is empty.
   */
  readonly archive?: ArchiveReplay;
}

export interface ArchiveReplay {
  readonly segments: readonly BinlogSegment[];
  readonly bytes: number;
  /** The backup's GTID position: mariadb-binlog prints only what comes after it. */
  readonly startGtid: string;
  /** Where mariadb-binlog stops: an inclusive GTID, a datetime (UTC, exclusive), or the end of the segments. */
  readonly stop:
    | { readonly kind: 'gtid'; readonly gtid: string }
    | { readonly kind: 'datetime'; readonly utc: string }
    | { readonly kind: 'end' };
  /** Why the index could not serve. */
  readonly because: string;
}

export interface PlanDeps {
  readonly catalog: Pick<BackupCatalog, 'list' | 'get'>;
  readonly changes: Pick<ChangeIndex, 'query' | 'ddl' | 'gaps' | 'checkpoint' | 'coverage'>;
  /** The raw binlog archive's catalog: the fallback when the index does not cover a backup's range. */
  readonly archive?: Pick<BinlogArchiveRepository, 'list' | 'gaps'>;
}

/** How far before a backup's start row changes are read: binlog order and commit time differ by a transaction's length. */
const READ_MARGIN_US = 3_600_000_000n;

export async function planRestore(deps: PlanDeps, req: PlanRequest): Promise<RestorePlan> {
  const checkpoint = await deps.changes.checkpoint(req.serverId);
  if (checkpoint === undefined) {
    throw new RestorePlanError(
      `Cannot plan a restore of server "${req.serverName}": no changes were ever captured for it (run dbtrail stream first)`,
      'gap',
      { fields: { server: req.serverName } },
    );
  }
  const candidates =
    req.backupId !== undefined
      ? [await deps.catalog.get(req.backupId, { tenantId: req.tenantId })]
      : await deps.catalog.list({
          tenantId: req.tenantId,
          serverName: req.serverName,
          status: 'succeeded',
          limit: 1000,
        });
  const refused: { backupId: string; reason: string }[] = [];
  const gaps = await deps.changes.gaps(req.serverId);
  const firstIndexed = await firstIndexedCoordinates(deps.changes, req);
  let loaded: { sinceUs: bigint; txs: ReplayTransaction[] } | undefined;

  for (const backup of candidates) {
    const refuse = (reason: string): void => {
      refused.push({ backupId: backup.id, reason });
    };
    if (backup.status !== 'succeeded') {
      refuse(`its status is ${backup.status}`);
      continue;
    }
    const bc = backup.coordinates;
    if (bc === null || backup.location === null) {
      refuse(bc === null ? 'it has no binlog coordinates' : 'it was never uploaded');
      continue;
    }
    if (req.target.kind === 'position' && compareCoordinates(bc, req.target) > 0) {
      refuse(`it was taken at ${bc.file}:${bc.position}, after the target`);
      continue;
    }
    const startedUs = BigInt((backup.startedAt ?? backup.createdAt).getTime()) * 1000n;
    if (req.target.kind === 'time' && startedUs > req.target.atUs) {
      refuse(`it was taken at ${isoUs(startedUs)}, after the target`);
      continue;
    }
    const sinceUs = startedUs - READ_MARGIN_US;
    if (loaded === undefined || loaded.sinceUs > sinceUs) {
      loaded = { sinceUs, txs: await loadTransactions(deps.changes, { ...req, sinceUs }) };
    }
    const after = loaded.txs.filter((t) => compareCoordinates(t, bc) >= 0);
    const cut = cutAtTarget(after, req.target, checkpoint.coordinates);
    if (typeof cut === 'string') {
      refuse(cut);
      continue;
    }
    // The replayed range ends at the first transaction not replayed, or at a position target before it.
    const end =
      req.target.kind === 'position' && compareCoordinates(req.target, cut.stopAt) < 0
        ? req.target
        : cut.stopAt;
    const gap = gaps.find((g) => compareCoordinates(g.to, bc) > 0 && compareCoordinates(g.from, end) < 0);
    if (gap !== undefined) {
      refuse(`changes are missing between them: ${describeGap(gap)}`);
      continue;
    }
    // Capture must have been running at the backup's coordinates, else changes right after it may be missing.
    if (
      firstIndexed !== undefined &&
      compareCoordinates(firstIndexed, bc) > 0 &&
      !gtidFollows(bc.gtid, after[0])
    ) {
      refuse(
        `capture of "${req.serverName}" began at ${firstIndexed.file}:${firstIndexed.position}, after the backup's coordinates ${bc.file}:${bc.position}`,
      );
      continue;
    }
    if (
      firstIndexed === undefined &&
      after.length === 0 &&
      compareCoordinates(checkpoint.coordinates, bc) < 0
    ) {
      refuse(
        `the change index ends at ${checkpoint.coordinates.file}:${checkpoint.coordinates.position}, before the backup`,
      );
      continue;
    }
    let replay = cut.replay;
    if (req.resumeFrom !== undefined) {
      const from = req.resumeFrom;
      if (compareCoordinates(from, bc) < 0) {
        throw new RestorePlanError(
          `Cannot resume the restore at ${from.file}:${from.position}: it is before the coordinates of backup ${backup.id} (${bc.file}:${bc.position})`,
          'conflict',
          { fields: { resumeFrom: `${from.file}:${from.position}`, backupId: backup.id } },
        );
      }
      replay = replay.filter((t) => compareCoordinates(t, from) >= 0);
    }
    return summarise(req, backup, bc, replay, cut.stopAt, refused);
  }
  if (deps.archive !== undefined && req.resumeFrom === undefined) {
    for (const backup of candidates) {
      const viaArchive = await archivePlan(deps.archive, deps.changes, req, backup, refused);
      if (viaArchive !== undefined) return viaArchive;
    }
  }
  const why =
    refused.length === 0
      ? `no successful backup of "${req.serverName}" is in the catalog`
      : refused
          .slice(0, 5)
          .map((r) => `backup ${r.backupId}: ${r.reason}`)
          .join('; ');
  const gapKind = refused.some(
    (r) => r.reason.startsWith('changes are missing') || r.reason.startsWith('capture of'),
  );
  throw new RestorePlanError(
    `Cannot restore server "${req.serverName}" to ${describeTarget(req.target)}: ${why}`,
    gapKind ? 'gap' : 'not_found',
    { fields: { server: req.serverName, refused } },
  );
}

/**
 * Cuts the transactions after a backup at the target. Returns the reason when the index cannot reach the target
 * from there.
 */
function cutAtTarget(
  after: readonly ReplayTransaction[],
  target: RestoreTarget,
  checkpoint: { readonly file: string; readonly position: number; readonly gtidSet: string | null },
):
  | string
  | {
      replay: readonly ReplayTransaction[];
      stopAt: { file: string; position: number; gtid: string | null };
    } {
  const end = { file: checkpoint.file, position: checkpoint.position, gtid: null };
  const stopBefore = (i: number) => {
    const t = after[i];
    return {
      replay: after.slice(0, i),
      stopAt: t === undefined ? end : { file: t.file, position: t.position, gtid: t.gtid },
    };
  };
  switch (target.kind) {
    case 'latest':
      return stopBefore(after.length);
    case 'time': {
      const i = after.findIndex((t) => t.commitTimeUs > target.atUs);
      if (i === -1) {
        // Everything captured is at or before the target: the index must have seen past it.
        return `the change index covers only up to the checkpoint at ${end.file}:${end.position}; nothing after the target time has been captured yet, so its changes up to ${isoUs(target.atUs)} may be incomplete`;
      }
      return stopBefore(i);
    }
    case 'position': {
      if (compareCoordinates(checkpoint, target) < 0) {
        return `the change index reaches only ${checkpoint.file}:${checkpoint.position}, before ${target.file}:${target.position}`;
      }
      const i = after.findIndex((t) => compareCoordinates(t, target) >= 0);
      return stopBefore(i === -1 ? after.length : i);
    }
    case 'to-gtid':
    case 'before-gtid': {
      const i = after.findIndex((t) => t.gtid === target.gtid);
      if (i === -1) return `GTID ${target.gtid} is not among the transactions captured after it`;
      return stopBefore(target.kind === 'to-gtid' ? i + 1 : i);
    }
  }
}

/** True when `next` is the very next MariaDB transaction of its domain after the GTID position `gtidSet`. */
function gtidFollows(gtidSet: string | null, next: ReplayTransaction | undefined): boolean {
  const g = mariadbGtid(next?.gtid ?? null);
  const pos = mariadbGtidPos(gtidSet);
  if (g === undefined || pos === undefined) return false;
  return (pos.get(g.domain) ?? 0n) + 1n === g.seq;
}

async function firstIndexedCoordinates(
  changes: PlanDeps['changes'],
  req: PlanRequest,
): Promise<{ file: string; position: number } | undefined> {
  const [row] = await changes.query({
    tenantId: req.tenantId,
    serverId: req.serverId,
    order: 'asc',
    limit: 1,
  });
  const [ddl] = await changes.ddl(req.serverId, { limit: 1 });
  const all = [row, ddl].filter((x) => x !== undefined);
  all.sort(compareCoordinates);
  return all[0];
}

export function describeGap(g: Gap): string {
  const times =
    g.fromTimeUs !== null || g.toTimeUs !== null
      ? ` (${g.fromTimeUs !== null ? isoUs(g.fromTimeUs) : '?'} to ${g.toTimeUs !== null ? isoUs(g.toTimeUs) : '?'})`
      : '';
  return `gap ${g.id} from ${g.from.file}:${g.from.position} to ${g.to.file}:${g.to.position}${times}, ${g.reason.replace('_', ' ')}: ${g.detail}`;
}

function summarise(
  req: PlanRequest,
  backup: BackupRecord,
  bc: Coordinates,
  replay: readonly ReplayTransaction[],
  stopAt: RestorePlan['stopAt'],
  refused: RestorePlan['refused'],
): RestorePlan {
  let rowChanges = 0;
  let ddlEvents = 0;
  const pkless = new Map<string, number>();
  for (const t of replay) {
    if (t.ddl !== null) ddlEvents++;
    rowChanges += t.changes.length;
    for (const c of t.changes) {
      if (!c.pkIsFullImage) continue;
      const name = `${c.schema}.${c.table}`;
      pkless.set(name, (pkless.get(name) ?? 0) + 1);
    }
  }
  const last = replay[replay.length - 1];
  return {
    serverName: req.serverName,
    target: req.target,
    backup,
    backupCoordinates: bc,
    transactions: replay,
    rowChanges,
    ddlEvents,
    stopAt,
    lastCommitTimeUs: last?.commitTimeUs ?? null,
    pklessTables: [...pkless].map(([table, rowChanges]) => ({ table, rowChanges })),
    refused,
  };
}

/**
 * The plan of a replica bootstrap: the newest successful backup (or the one asked for), loaded and nothing
 * replayed, since replication itself continues from the backup's coordinates. Needs no captured changes.
 */
export async function planReplicaBootstrap(
  catalog: Pick<BackupCatalog, 'list' | 'get'>,
  req: { readonly tenantId: string; readonly serverName: string; readonly backupId?: string },
): Promise<RestorePlan> {
  const candidates =
    req.backupId !== undefined
      ? [await catalog.get(req.backupId, { tenantId: req.tenantId })]
      : await catalog.list({
          tenantId: req.tenantId,
          serverName: req.serverName,
          status: 'succeeded',
          limit: 100,
        });
  const refused: { backupId: string; reason: string }[] = [];
  for (const backup of candidates) {
    if (backup.status !== 'succeeded' || backup.coordinates === null || backup.location === null) {
      refused.push({ backupId: backup.id, reason: 'it did not succeed with coordinates and a location' });
      continue;
    }
    const c = backup.coordinates;
    return {
      serverName: req.serverName,
      target: { kind: 'position', file: c.file, position: c.position },
      backup,
      backupCoordinates: c,
      transactions: [],
      rowChanges: 0,
      ddlEvents: 0,
      stopAt: { file: c.file, position: c.position, gtid: null },
      lastCommitTimeUs: null,
      pklessTables: [],
      refused,
    };
  }
  throw new RestorePlanError(
    `Cannot bootstrap a replica of "${req.serverName}": no successful backup with coordinates is in the catalog`,
    'not_found',
    { fields: { server: req.serverName, refused } },
  );
}

/**
 * A plan that replays a backup's range from the raw binlog archive, for when the change index cannot (a gap,
 * pruned history, capture started after the backup). MariaDB GTIDs delimit the range: segment files keep the
 * source's event positions but not its byte offsets, so byte positions cannot.
 */
async function archivePlan(
  archive: NonNullable<PlanDeps['archive']>,
  changes: PlanDeps['changes'],
  req: PlanRequest,
  backup: BackupRecord,
  refused: { backupId: string; reason: string }[],
): Promise<RestorePlan | undefined> {
  const bc = backup.coordinates;
  if (backup.status !== 'succeeded' || bc === null || backup.location === null) return undefined;
  const why = refused.find((r) => r.backupId === backup.id)?.reason ?? 'the change index does not cover it';
  const note = (reason: string): undefined => {
    refused.push({ backupId: backup.id, reason: `the binlog archive cannot serve it either: ${reason}` });
    return undefined;
  };
  const start = mariadbGtidPos(bc.gtid);
  if (bc.gtid === null || bc.gtid === '' || start === undefined)
    return note('the backup has no MariaDB GTID position');
  let stop: ArchiveReplay['stop'];
  let to: ArchiveTarget | undefined;
  const t = req.target;
  switch (t.kind) {
    case 'latest':
      stop = { kind: 'end' };
      break;
    case 'time': {
      // Binlog timestamps are whole seconds: every event of second S <= T is wanted, so stop at S + 1.
      const next = (t.atUs / 1_000_000n + 1n) * 1000n;
      stop = { kind: 'datetime', utc: new Date(Number(next)).toISOString().replace('T', ' ').slice(0, 19) };
      to = { commitTimeUs: t.atUs };
      break;
    }
    case 'to-gtid':
    case 'before-gtid': {
      const g = mariadbGtid(t.gtid);
      if (g === undefined) return note('the target is not a MariaDB GTID');
      // Where the transaction is, when the index still knows it (DDL outlives pruning): the segments needed end there.
      const at = await locateGtid(changes, req, t.gtid);
      if (at !== undefined) to = at;
      if (t.kind === 'to-gtid') stop = { kind: 'gtid', gtid: t.gtid };
      else {
        if (g.seq <= (start.get(g.domain) ?? 0n)) return note(`GTID ${t.gtid} is already in the backup`);
        stop = { kind: 'gtid', gtid: `${g.domain}-${t.gtid.split('-')[1]}-${g.seq - 1n}` };
      }
      break;
    }
    case 'position':
      return note('a byte position cannot be mapped onto archive segments; give a time or GTID target');
  }
  let segments: readonly BinlogSegment[];
  try {
    segments = (await segmentsCovering(archive, req.serverId, bc, to)).segments;
  } catch (err) {
    if (isDbtrailError(err) && err.kind === 'gap') return note(err.message);
    return note(messageOf(err));
  }
  return {
    serverName: req.serverName,
    target: req.target,
    backup,
    backupCoordinates: bc,
    transactions: [],
    rowChanges: 0,
    ddlEvents: 0,
    stopAt: {
      file: segments.at(-1)?.file ?? bc.file,
      position: segments.at(-1)?.endPosition ?? bc.position,
      gtid: null,
    },
    lastCommitTimeUs: segments.at(-1)?.lastCommitUs ?? null,
    pklessTables: [],
    refused: refused.filter((r) => r.backupId !== backup.id),
    archive: {
      segments,
      bytes: segments.reduce((a, x) => a + x.bytes, 0),
      startGtid: bc.gtid,
      stop,
      because: why,
    },
  };
}

async function locateGtid(
  changes: PlanDeps['changes'],
  req: PlanRequest,
  gtid: string,
): Promise<{ file: string; position: number } | undefined> {
  const [row] = await changes.query({ tenantId: req.tenantId, serverId: req.serverId, gtid, limit: 1 });
  if (row !== undefined) return { file: row.file, position: row.position };
  let afterSeq: bigint | undefined;
  for (;;) {
    const page = await changes.ddl(req.serverId, {
      limit: 10_000,
      ...(afterSeq !== undefined ? { afterSeq } : {}),
    });
    const hit = page.find((d) => d.gtid === gtid);
    if (hit !== undefined) return { file: hit.file, position: hit.position };
    if (page.length < 10_000) return undefined;
    afterSeq = page[page.length - 1]?.seq;
  }
}
