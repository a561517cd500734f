import { describe, expect, it } from 'vitest';
import { StateUrlError } from './errors.js';
import { parseStateUrl } from './state-url.js';

describe('parseStateUrl', () => {
  it('reads the SQLite forms', () => {
    expect(parseStateUrl('sqlite:/var/lib/dbtrail/dbtrail.db')).toEqual({
      kind: 'sqlite',
      path: '/var/lib/dbtrail/dbtrail.db',
    });
    expect(parseStateUrl('sqlite:///abs/x.db')).toEqual({ kind: 'sqlite', path: '/abs/x.db' });
    expect(parseStateUrl('sqlite:state/x.db', '/home/u')).toEqual({
      kind: 'sqlite',
      path: '/home/u/state/x.db',
    });
    expect(parseStateUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
  });

  it('reads PostgreSQL URLs and hides their password', () => {
    expect(parseStateUrl('postgres://dbtrail:s3cret@db:5432/state')).toEqual({
      kind: 'postgres',
      url: 'postgres://dbtrail:s3cret@db:5432/state',
      display: 'postgres://dbtrail:[redacted]@db:5432/state',
    });
    expect(parseStateUrl('postgresql://db/state').kind).toBe('postgres');
  });

  it('names the bad input and the expected forms, without leaking a password', () => {
    expect(() => parseStateUrl('sqlite:')).toThrow(
      'Cannot open state store "sqlite:": expected a file path after "sqlite:"',
    );
    try {
      parseStateUrl('mysql://root:hunter2@db/state');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(StateUrlError);
      const e = err as StateUrlError;
      expect(e.message).toBe(
        'Cannot open state store "mysql://root:[redacted]@db/state": expected sqlite:PATH or postgres://...',
      );
      expect(JSON.stringify(e.fields)).not.toContain('hunter2');
      expect(e.kind).toBe('config');
    }
  });
});
