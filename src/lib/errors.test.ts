import { describe, expect, it } from 'vitest';
import { DbtrailError, isDbtrailError, messageOf } from './errors.js';

class SampleError extends DbtrailError {
  constructor(file: string) {
    super('SAMPLE_BAD', 'input', `Cannot read sample "${file}": not a sample`, { fields: { file } });
  }
}

describe('DbtrailError', () => {
  it('carries a stable code, kind, frozen fields and the subclass name', () => {
    const err = new SampleError('a.bin');
    expect(err.code).toBe('SAMPLE_BAD');
    expect(err.kind).toBe('input');
    expect(err.name).toBe('SampleError');
    expect(err.fields).toEqual({ file: 'a.bin' });
    expect(Object.isFrozen(err.fields)).toBe(true);
    expect(isDbtrailError(err)).toBe(true);
    expect(isDbtrailError(new Error('x'))).toBe(false);
    expect(err.toJSON()).toEqual({
      code: 'SAMPLE_BAD',
      kind: 'input',
      message: 'Cannot read sample "a.bin": not a sample',
      fields: { file: 'a.bin' },
    });
  });

  it('keeps the cause', () => {
    const cause = new Error('root');
    const err = new DbtrailError('X', 'internal', 'Cannot do x', { cause });
    expect(err.cause).toBe(cause);
    expect(messageOf(cause)).toBe('root');
    expect(messageOf('plain')).toBe('plain');
  });
});
