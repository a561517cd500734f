import { describe, expect, it } from 'vitest';
import type { CommitBatch } from '../store/change-index.js';
import { CheckpointConflictError as StoreConflict } from '../store/errors.js';
import { BatchWriter } from './batch.js';
import { CaptureWriteError, CheckpointConflictError } from './errors.js';

const identity = { serverUuid: null, serverId: '1', hostname: 'h', flavor: 'mariadb' as const };
const trx = (n: number) => ({
  gtid: `0-1-${n}`,
  file: 'binlog.000001',
  position: n * 100,
  endPosition: n * 100 + 100,
  commitTimeUs: 1n,
  threadId: 1,
  changes: [],
  ddl: [],
});
const at = (n: number) => ({ file: 'binlog.000001', position: n * 100 + 100, gtidSet: `0-1-${n}` });

describe('BatchWriter', () => {
  it('commits transactions with the checkpoint after the last, fenced on the previous checkpoint', async () => {
    const commits: CommitBatch[] = [];
    let now = 0;
    const w = new BatchWriter({
      index: { commit: (_id, b) => (commits.push(b), Promise.resolve({ firstSeq: null, lastSeq: null })) },
      serverId: 's',
      serverName: 'db1',
      identity,
      committed: null,
      limits: { maxTransactions: 2, maxDelayMs: 50 },
      now: () => now,
    });
    w.addTransaction(trx(1), at(1), 10);
    expect(w.due).toBe(false);
    now = 60;
    expect(w.due).toBe(true);
    w.addTransaction(trx(2), at(2), 10);
    await w.flush();
    w.addTransaction(trx(3), at(3), 10);
    await w.flush();
    expect(
      commits.map((c) => [
        c.transactions.length,
        c.checkpoint.coordinates.position,
        c.expectPrevious?.position ?? null,
      ]),
    ).toEqual([
      [2, 300, null],
      [1, 400, 300],
    ]);
    expect(w.committed).toEqual(at(3));
  });

  it('stops for good after a failed commit: nothing is skipped', async () => {
    let calls = 0;
    const w = new BatchWriter({
      index: {
        commit: () => {
          calls++;
          return Promise.reject(new Error('disk full'));
        },
      },
      serverId: 's',
      serverName: 'db1',
      identity,
      committed: at(0),
    });
    w.addTransaction(trx(1), at(1), 10);
    await expect(w.flush()).rejects.toThrow(CaptureWriteError);
    await expect(w.flush()).rejects.toThrow(
      /Cannot commit 1 transactions from binlog\.000001:100 to binlog\.000001:200 .*for server "db1": disk full/,
    );
    expect(calls).toBe(1);
    expect(w.committed).toEqual(at(0));
  });

  it('reports a moved checkpoint as a conflict', async () => {
    const w = new BatchWriter({
      index: { commit: () => Promise.reject(new StoreConflict('moved')) },
      serverId: 's',
      serverName: 'db1',
      identity,
      committed: at(0),
    });
    w.advance(at(1));
    await expect(w.flush()).rejects.toThrow(CheckpointConflictError);
  });
});
