import { compareCoordinates } from '../capture/coordinates.js';
import { MAX_CHANGE_QUERY_LIMIT, type ChangeIndex } from '../store/change-index.js';
import { RecoverInputError } from './errors.js';
import { readDdl, SEQ_WINDOW } from './select.js';

/**
 * Exact lower bounds in binlog order, as seqs: `--after-gtid G` (everything after transaction G) and
 * `--after-position file:pos` (everything from that position on).
 */

/** The last seq of the transaction with this GTID (row changes or a DDL event). */
export async function seqOfGtid(
  index: ChangeIndex,
  tenantId: string,
  serverId: string,
  gtid: string,
): Promise<bigint> {
  let last: bigint | undefined;
  let after: bigint | undefined;
  for (;;) {
    const page = await index.query({
      tenantId,
      serverId,
      gtid,
      limit: MAX_CHANGE_QUERY_LIMIT,
      ...(after === undefined ? {} : { afterSeq: after }),
    });
    for (const r of page) if (last === undefined || r.seq > last) last = r.seq;
    if (page.length < MAX_CHANGE_QUERY_LIMIT) break;
    after = page[page.length - 1]!.seq;
  }
  if (last !== undefined) return last;
  const ddl = (await readDdl(index, serverId, 0n, undefined)).filter((d) => d.gtid === gtid);
  const found = ddl[ddl.length - 1];
  if (found !== undefined) return found.seq;
  throw new RecoverInputError(
    `Cannot use --after-gtid ${gtid}: the index holds no transaction with that GTID (pruned, not captured, or mistyped)`,
    { fields: { gtid } },
  );
}

/** `binlog.000042:1234` -> coordinates; a clear error otherwise. */
export function parsePositionArg(flag: string, text: string): { file: string; position: number } {
  const m = /^(.+):(\d+)$/.exec(text.trim());
  const position = m === null ? NaN : Number(m[2]);
  if (m === null || !Number.isSafeInteger(position)) {
    throw new RecoverInputError(
      `Cannot parse --${flag} "${text}": expected FILE:POSITION, e.g. mysql-bin.000042:1234`,
      {
        fields: { flag: `--${flag}`, value: text },
      },
    );
  }
  return { file: m[1]!, position };
}

/**
 * The highest seq of a change or DDL event whose transaction starts before `at`: the bound after which every
 * change is at or after the position (a backup taken at `at` holds everything up to it). Seqs and coordinates grow together, so the index is walked down from its newest change a
 * window at a time until a change before the position appears. 0 when every change is at or after it.
 */
export async function seqBeforePosition(
  index: ChangeIndex,
  tenantId: string,
  serverId: string,
  at: { file: string; position: number },
): Promise<bigint> {
  const { lastSeq } = await index.stats(serverId);
  for (let hi = lastSeq; hi > 0n; hi -= SEQ_WINDOW) {
    const lo = hi > SEQ_WINDOW ? hi - SEQ_WINDOW : 0n;
    const page = await index.query({
      tenantId,
      serverId,
      seqRange: { after: lo, until: hi },
      limit: Number(SEQ_WINDOW),
    });
    // DDL events take seqs too: one before the position is in a backup taken there, and must not be replayed.
    const ddl = await index.ddl(serverId, { afterSeq: lo, untilSeq: hi, limit: Number(SEQ_WINDOW) });
    let best: bigint | undefined;
    for (const r of [...page, ...ddl]) {
      if (compareCoordinates(r, at) < 0 && (best === undefined || r.seq > best)) best = r.seq;
    }
    if (best !== undefined) return best;
  }
  return 0n;
}
