import { describe, expect, it } from 'vitest';
import {
  BACKUP_STATUSES,
  checkComplete,
  checkTransition,
  nextStatuses,
  previousStatuses,
  type BackupStatus,
} from './backup-lifecycle.js';
import { BackupIncompleteError, IllegalTransitionError } from './errors.js';

const subject = (status: BackupStatus, dumpFinished = false) => ({
  id: 'b1',
  status,
  dumpFinishedAt: dumpFinished ? new Date(0) : null,
});

describe('backup lifecycle', () => {
  it('allows exactly the documented transitions', () => {
    const allowed: string[] = [];
    for (const from of BACKUP_STATUSES) {
      for (const to of BACKUP_STATUSES) {
        try {
          checkTransition(subject(from, true), to);
          allowed.push(`${from}->${to}`);
        } catch (err) {
          expect(err).toBeInstanceOf(IllegalTransitionError);
        }
      }
    }
    expect(allowed.sort()).toEqual(
      [
        'queued->running',
        'queued->failed',
        'running->uploading',
        'running->failed',
        'uploading->succeeded',
        'uploading->failed',
        'failed->uploading',
      ].sort(),
    );
  });

  it('names the backup, both statuses and why', () => {
    expect(() => checkTransition(subject('succeeded'), 'running')).toThrow(
      'Cannot change status of backup b1 from succeeded to running: succeeded is final',
    );
    try {
      checkTransition(subject('queued'), 'succeeded');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(IllegalTransitionError);
      const e = err as IllegalTransitionError;
      expect(e.code).toBe('STORE_ILLEGAL_TRANSITION');
      expect(e.kind).toBe('conflict');
      expect(e.fields).toEqual({ backupId: 'b1', from: 'queued', to: 'succeeded' });
      expect(e.message).toBe(
        'Cannot change status of backup b1 from queued to succeeded: from queued only running or failed is allowed',
      );
    }
  });

  it('retries an upload only when the dump had finished', () => {
    expect(() => checkTransition(subject('failed', false), 'uploading')).toThrow(/dump step never finished/);
    expect(() => checkTransition(subject('failed', true), 'uploading')).not.toThrow();
  });

  it('inverts the table for compare-and-set updates', () => {
    expect(previousStatuses('failed').slice().sort()).toEqual(['queued', 'running', 'uploading']);
    expect(previousStatuses('uploading').slice().sort()).toEqual(['failed', 'running']);
    expect(previousStatuses('queued')).toEqual([]);
    expect(nextStatuses('succeeded')).toEqual([]);
  });

  it('refuses to call a backup good without coordinates or location', () => {
    expect(() => checkComplete({ id: 'b1', coordinates: null, location: 's3://b/p' })).toThrow(
      'Cannot mark backup b1 succeeded: missing binlog coordinates',
    );
    expect(() => checkComplete({ id: 'b1', coordinates: null, location: null })).toThrow(
      BackupIncompleteError,
    );
    expect(() => checkComplete({ id: 'b1', coordinates: null, location: null })).toThrow(
      /missing binlog coordinates and location$/,
    );
    expect(() =>
      checkComplete({ id: 'b1', coordinates: { file: 'f' }, location: 'file:///x' }),
    ).not.toThrow();
  });
});
