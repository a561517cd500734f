import { describe, expect, it } from 'vitest';
import { describeGap, findGap, formatMicros } from './gap.js';

describe('findGap', () => {
  const uuid = '3e11fa47-71ca-11e1-9e33-c80aa9429562';

  it('MariaDB: no gap when the oldest binlog starts at or before the checkpoint GTID', () => {
    const cp = { file: 'binlog.000001', position: 900, gtidSet: '0-1-50' };
    expect(
      findGap(cp, {
        flavor: 'mariadb',
        files: ['binlog.000003'],
        oldest: { file: 'binlog.000003', position: 4, gtidSet: '0-1-50' },
      }),
    ).toBeUndefined();
  });

  it('MariaDB: a gap when the oldest GTID_LIST is past the checkpoint in some domain', () => {
    const cp = { file: 'binlog.000001', position: 900, gtidSet: '0-1-50' };
    const gap = findGap(cp, {
      flavor: 'mariadb',
      files: ['binlog.000003'],
      oldest: { file: 'binlog.000003', position: 4, gtidSet: '0-1-70,1-2-5' },
    });
    expect(gap?.reason).toBe('binlog_purged');
    expect(gap?.detail).toBe(
      'the transactions domain 0: 51-70, domain 1: 1-5 were in binlogs purged before binlog.000003',
    );
    expect(gap?.from).toBe(cp);
  });

  it('MySQL: a gap exactly when gtid_purged is not contained in the checkpoint set', () => {
    const cp = { file: 'binlog.000002', position: 4, gtidSet: `${uuid}:1-10` };
    const oldest = (g: string) => ({
      flavor: 'mysql' as const,
      files: ['binlog.000005'],
      oldest: { file: 'binlog.000005', position: 4, gtidSet: g },
    });
    expect(findGap(cp, oldest(`${uuid}:1-10`))).toBeUndefined();
    expect(findGap(cp, oldest(`${uuid}:1-9`))).toBeUndefined();
    expect(findGap(cp, oldest(`${uuid}:1-11`))?.reason).toBe('binlog_purged');
  });

  it('without GTIDs: by file', () => {
    const cp = { file: 'binlog.000002', position: 400, gtidSet: null };
    const files = (...f: string[]) => ({
      flavor: 'mysql' as const,
      files: f,
      oldest: { file: f[0]!, position: 4, gtidSet: null },
    });
    expect(findGap(cp, files('binlog.000002', 'binlog.000003'))).toBeUndefined();
    expect(findGap(cp, files('binlog.000003'))?.detail).toBe(
      'binlog.000002 was purged; the oldest binlog is binlog.000003',
    );
    expect(findGap({ ...cp, file: 'binlog.000009' }, files('binlog.000001'))?.reason).toBe('other');
  });

  it('describes a gap with coordinates and microsecond times', () => {
    const text = describeGap(
      {
        from: { file: 'b.000001', position: 5, gtidSet: '0-1-5' },
        to: { file: 'b.000003', position: 4, gtidSet: null },
        reason: 'binlog_purged',
        detail: 'gone',
      },
      1_700_000_000_000_001n,
      null,
    );
    expect(text).toBe(
      'from b.000001:5 (GTID 0-1-5) at 2023-11-14T22:13:20.000001Z to b.000003:4, reason binlog_purged: gone',
    );
    expect(formatMicros(0n)).toBe('1970-01-01T00:00:00.000000Z');
  });
});
