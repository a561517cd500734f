import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../store/audit-log.js';
import { driftCheckJson } from './checks.js';

function entry(outcome: 'success' | 'failure', details: AuditEntry['details']): AuditEntry {
  return {
    seq: 7,
    at: '2024-05-01T10:00:00.000Z',
    tenantId: '00000000-0000-4000-8000-000000000001',
    actor: { kind: 'cli', id: 'ops' },
    action: 'drift.run',
    target: '00000000-0000-4000-8000-000000000002',
    outcome,
    details,
    prevHash: '0'.repeat(64),
    hash: '1'.repeat(64),
  };
}

describe('driftCheckJson', () => {
  it('reads a finished check as dbtrail drift records it', () => {
    expect(
      driftCheckJson(
        entry('failure', {
          mode: 'between',
          status: 'drift',
          backup_id: 'b-a',
          file: 'bin.000002',
          position: 9_007_199_254_740_991,
          gtid: null,
          drifted_tables: 2,
          drifted_rows: 5,
        }),
      ),
    ).toEqual({
      seq: 7,
      at: '2024-05-01T10:00:00.000Z',
      outcome: 'failure',
      status: 'drift',
      mode: 'between',
      drifted_rows: 5,
      drifted_tables: 2,
      backup_id: 'b-a',
      coordinates: { file: 'bin.000002', position: 9_007_199_254_740_991, gtid: null },
      error: null,
    });
  });

  it('reads a failure without a status as a check that could not run, with a reason even when none was kept', () => {
    expect(driftCheckJson(entry('failure', { error: 'Cannot connect' }))).toMatchObject({
      status: 'error',
      coordinates: null,
      drifted_rows: null,
      error: 'Cannot connect',
    });
    expect(driftCheckJson(entry('failure', {})).error).toBe(
      'The check could not run; no reason was recorded',
    );
  });

  it('reads fields of another shape as null instead of failing the listing', () => {
    const json = driftCheckJson(
      entry('success', { status: 'weird', file: 'bin.000001', position: '4', drifted_rows: -1 }),
    );
    expect(json).toMatchObject({ status: 'clean', coordinates: null, drifted_rows: null, error: null });
  });
});
