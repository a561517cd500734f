import { beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, type MariaDbSandbox } from '../harness/mariadb.js';
import {
  compareOracle,
  decodeBinlogFile,
  decodeViaCli,
  ndjsonRowChanges,
  oracleRowChanges,
  runOracleWorkload,
  type ExpectedChange,
} from './oracle-helpers.js';

describe('live oracle: binlog row images equal SELECT text for every column type', () => {
  let db: MariaDbSandbox;
  let expected: ExpectedChange[];
  let file: string;

  beforeAll(async () => {
    db = await startMariaDb();
    expected = await runOracleWorkload(db);
    const { file: current } = await db.coordinates();
    file = current;
    // Close the file so it ends with a complete event.
    await db.flushBinaryLogs();
  });

  it('ran the workload it claims to have run', () => {
    expect(expected.filter((c) => c.op === 'insert').length).toBeGreaterThanOrEqual(20);
    expect(expected.filter((c) => c.op === 'update').length).toBe(4);
    expect(expected.filter((c) => c.op === 'delete').length).toBe(3);
  });

  it('decodes the datadir binlog file to the same values, before and after', async () => {
    const events = await decodeBinlogFile(db.binlogPath(file));
    const problems = compareOracle(expected, oracleRowChanges(events));
    expect(problems).toEqual([]);
  });

  it('prints the same values through `dbtrail binlog decode` (NDJSON)', async () => {
    const { code, stdout, stderr } = await decodeViaCli(db.binlogPath(file));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const problems = compareOracle(expected, ndjsonRowChanges(stdout));
    expect(problems).toEqual([]);
  });
});
