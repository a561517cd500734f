import { basename } from 'node:path';
import { IncompleteEventError } from '../binlog/errors.js';
import type { DecodedEvent } from '../binlog/events.js';
import { readBinlogFile } from '../binlog/file-reader.js';
import type { Logger } from '../log/logger.js';
import type { BinlogCoordinates, ChangeIndex, NewGap, ServerIdentity } from '../store/change-index.js';
import type { BatchLimits } from './batch.js';
import { compareBinlogFiles, describeCoordinates } from './coordinates.js';
import { CaptureCore } from './core.js';
import { BinlogSequenceError, CaptureGapError, ServerIdentityMismatchError } from './errors.js';
import type { TableFilter } from './filter.js';
import { describeGap, type GapFinding } from './gap.js';
import { SchemaHistory, tableKey } from './schema-history.js';
import { describeIdentity, sameServer } from './server-state.js';

/**
 * Offline indexing of binlog files read from disk, with the same exactly-once rules as live capture: complete
 * transactions only, committed with the checkpoint, continuing from the stored checkpoint and skipping whatever
 * it already covers.
 *
 * A file is done only when it ends with the ROTATE (or STOP) the server writes when it closes a binlog. A file that
 * ends otherwise is still being written (or its server crashed): it is indexed up to its last complete transaction
 * and the checkpoint stays inside it, so the next run continues there.
 */
export interface IndexFilesOptions {
  readonly files: readonly string[];
  readonly index: ChangeIndex;
  readonly serverId: string;
  readonly serverName: string;
  readonly filter: TableFilter;
  readonly acceptGap: boolean;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Identity from a live connection; else the checkpoint's, else what the binlog's header tells. */
  readonly identity?: ServerIdentity;
  readonly onGap?: (text: string, gap: GapFinding) => void;
  readonly limits?: Partial<BatchLimits>;
}

export interface IndexFilesSummary {
  readonly transactions: number;
  readonly changes: number;
  readonly checkpoint: BinlogCoordinates | null;
  /** Files read to their closing ROTATE/STOP. */
  readonly filesDone: number;
  /** The file left unfinished (still being written), if any. */
  readonly unfinished: string | undefined;
  readonly skipped: readonly string[];
}

interface FileHead {
  readonly flavor: 'mysql' | 'mariadb';
  readonly serverId: number;
}

export async function indexBinlogFiles(options: IndexFilesOptions): Promise<IndexFilesSummary> {
  const { files, index, serverId, serverName, logger } = options;
  checkOrder(files);
  const stored = await index.checkpoint(serverId);
  const first = files[0];
  if (first === undefined) {
    return {
      transactions: 0,
      changes: 0,
      checkpoint: stored?.coordinates ?? null,
      filesDone: 0,
      unfinished: undefined,
      skipped: [],
    };
  }
  const head = await readHead(first, options.signal);
  const identity: ServerIdentity = stored?.identity ??
    options.identity ?? {
      serverUuid: null,
      serverId: String(head.serverId),
      hostname: '',
      flavor: head.flavor,
    };
  if (
    options.identity !== undefined &&
    stored !== undefined &&
    !sameServer(stored.identity, options.identity)
  ) {
    throw new ServerIdentityMismatchError(
      `Cannot index binlog files for server "${serverName}": the DSN reaches ${describeIdentity(options.identity)}, but the checkpoint belongs to ${describeIdentity(stored.identity)}`,
      { fields: { server: serverName } },
    );
  }
  if (String(head.serverId) !== identity.serverId || head.flavor !== identity.flavor) {
    throw new ServerIdentityMismatchError(
      `Cannot index "${first}" for server "${serverName}": the file was written by ${head.flavor} server_id ${head.serverId}, but the server is ${describeIdentity(identity)}`,
      { fields: { server: serverName, file: first } },
    );
  }

  // Which files (and from where) the checkpoint leaves to read.
  const skipped: string[] = [];
  const todo = [...files];
  let startPos = 4;
  let gap: NewGap | undefined;
  if (stored !== undefined) {
    const cp = stored.coordinates;
    while (todo[0] !== undefined && compareBinlogFiles(basename(todo[0]), cp.file) < 0) {
      skipped.push(todo.shift() as string);
    }
    const next = todo[0];
    if (next === undefined) {
      logger.info(
        { checkpoint: cp },
        `Nothing to index: the checkpoint ${describeCoordinates(cp)} is past every file given`,
      );
      return { transactions: 0, changes: 0, checkpoint: cp, filesDone: 0, unfinished: undefined, skipped };
    }
    if (basename(next) === cp.file) {
      startPos = cp.position;
    } else {
      const finding: GapFinding = {
        from: cp,
        to: { file: basename(next), position: 4, gtidSet: null },
        reason: 'other',
        detail: `the files between ${describeCoordinates(cp)} and ${basename(next)} were not given`,
      };
      gap = reportGap(options, finding);
    }
  }

  const history = new SchemaHistory();
  const startFile = basename(todo[0] as string);
  const start: BinlogCoordinates =
    stored !== undefined && gap === undefined
      ? stored.coordinates
      : { file: startFile, position: 4, gtidSet: stored?.coordinates.gtidSet ?? null };
  const core = new CaptureCore({
    index,
    serverId,
    serverName,
    identity,
    committed: stored?.coordinates ?? null,
    start,
    flavor: head.flavor,
    filter: options.filter,
    history,
    logger,
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
  });
  if (gap !== undefined) core.batch.setGap(gap);
  const looked = new Set<string>();
  let filesDone = 0;
  let unfinished: string | undefined;
  let pendingError: unknown;

  try {
    for (let i = 0; i < todo.length; i++) {
      const path = todo[i] as string;
      const name = basename(path);
      if (i > 0 && core.safeCoordinates.file !== name) {
        // Files between the last one read and this one were not given: their changes are missing.
        const safe = core.safeCoordinates;
        const missing = reportGap(options, {
          from: safe,
          to: { file: name, position: 4, gtidSet: null },
          reason: 'other',
          detail: `the binlogs between ${safe.file} and ${name} were not given`,
        });
        await core.flush();
        core.batch.setGap(missing);
        core.restartAt({ ...safe, file: name, position: 4 });
      }
      let from = i === 0 ? startPos : 4;
      let ended = false;
      // A file is re-read from a safe position when schema history for a table turns up after its TABLE_MAP was
      // decoded with positional names; each table is looked up at most once.
      reading: for (;;) {
        try {
          for await (const event of readBinlogFile(path, {
            fromPos: from,
            signal: options.signal,
            columnResolver: history.resolver(),
          })) {
            if (event.body.kind === 'table_map' && event.body.tableMap.columnsSource === 'positional') {
              const t = event.body.tableMap;
              const key = tableKey(t.schema, t.table);
              if (!looked.has(key) && options.filter.matches(t.schema, t.table)) {
                looked.add(key);
                const entry = await index.tableSchemaAt(serverId, t.schema, t.table, {
                  coordinates: core.safeCoordinates,
                });
                if (entry !== undefined && entry.columns.length === t.columns.length) {
                  history.apply(entry);
                  const safe = core.safeCoordinates;
                  core.restartAt(safe);
                  from = safe.file === name ? safe.position : 4;
                  continue reading;
                }
              }
            }
            if (isEndOfFile(event)) ended = true;
            const wait = core.push(event);
            if (wait !== undefined) await wait;
          }
          break;
        } catch (err) {
          if (err instanceof IncompleteEventError) break;
          throw err;
        }
      }
      if (ended) {
        filesDone++;
      } else if (i === todo.length - 1) {
        unfinished = path;
        logger.info(
          { file: path, checkpoint: core.safeCoordinates },
          `"${path}" has no closing ROTATE: indexed up to its last complete transaction and left open`,
        );
      } else {
        logger.warn(
          { file: path },
          `"${path}" ends without a closing ROTATE (its server stopped abruptly); continuing with the next file`,
        );
        // The server started a new binlog after the crash: continue at its start.
        const next = basename(todo[i + 1] as string);
        core.restartAt({ ...core.safeCoordinates, file: next, position: 4 });
      }
      if (options.signal.aborted) break;
    }
  } catch (err) {
    // Stopped by a signal: what is complete is committed below, and the stop is not an error.
    if (!options.signal.aborted) pendingError = err;
  }
  // Whatever is complete is committed, also before an error is reported.
  await core.flush();
  if (pendingError !== undefined) throw pendingError as Error;
  return {
    transactions: core.counters.transactions,
    changes: core.counters.changes,
    checkpoint: core.batch.committed,
    filesDone,
    unfinished,
    skipped,
  };
}

function reportGap(options: IndexFilesOptions, finding: GapFinding): NewGap {
  const text = describeGap(finding, null, null);
  options.onGap?.(text, finding);
  if (!options.acceptGap) {
    throw new CaptureGapError(
      `Cannot index binlog files for server "${options.serverName}": changes are missing ${text}; give the missing files, or rerun with --accept-gap to record the gap`,
      { fields: { server: options.serverName, from: finding.from, to: finding.to, reason: finding.reason } },
    );
  }
  return {
    from: finding.from,
    to: finding.to,
    fromTimeUs: null,
    toTimeUs: null,
    reason: finding.reason,
    detail: finding.detail,
  };
}

/** The ROTATE/STOP that closes a binlog file (not the artificial ROTATE of a stream). */
function isEndOfFile(event: DecodedEvent): boolean {
  return (event.body.kind === 'rotate' || event.body.kind === 'stop') && event.header.logPos !== 0;
}

function checkOrder(files: readonly string[]): void {
  for (let i = 1; i < files.length; i++) {
    const a = basename(files[i - 1] as string);
    const b = basename(files[i] as string);
    if (compareBinlogFiles(a, b) >= 0) {
      throw new BinlogSequenceError(
        `Cannot index binlog files: "${files[i]}" must come after "${files[i - 1]}" (give the files in binlog order, oldest first, each once)`,
        { fields: { files } },
      );
    }
  }
}

/** The flavour and writer server_id of a binlog, from its FORMAT_DESCRIPTION event. */
async function readHead(path: string, signal: AbortSignal): Promise<FileHead> {
  for await (const event of readBinlogFile(path, { signal, stopPos: 5 })) {
    if (event.body.kind === 'format_description') {
      return { flavor: event.body.flavor, serverId: event.header.serverId };
    }
  }
  throw new BinlogSequenceError(`Cannot index "${path}": it has no FORMAT_DESCRIPTION event at offset 4`, {
    fields: { file: path },
  });
}
