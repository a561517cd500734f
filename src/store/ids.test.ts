import { describe, expect, it } from 'vitest';
import { idPrefixRange, isUuid, newId } from './ids.js';

describe('ids', () => {
  it('makes distinct lower-case UUIDs', () => {
    const a = newId();
    const b = newId();
    expect(isUuid(a)).toBe(true);
    expect(a).not.toBe(b);
    expect(isUuid(a.toUpperCase())).toBe(false);
    expect(isUuid('not-a-uuid')).toBe(false);
  });

  it('turns a short id into the range of UUIDs it starts', () => {
    expect(idPrefixRange('3F2a91')).toEqual({
      low: '3f2a9100-0000-0000-0000-000000000000',
      high: '3f2a91ff-ffff-ffff-ffff-ffffffffffff',
    });
    expect(idPrefixRange('3f2a9100-12')).toEqual({
      low: '3f2a9100-1200-0000-0000-000000000000',
      high: '3f2a9100-12ff-ffff-ffff-ffffffffffff',
    });
    const full = '3f2a9100-1234-4567-89ab-cdef01234567';
    expect(idPrefixRange(full)).toEqual({ low: full, high: full });
  });

  it('refuses text that cannot start a UUID', () => {
    expect(idPrefixRange('abc')).toBeUndefined();
    expect(idPrefixRange('xyz12345')).toBeUndefined();
    expect(idPrefixRange('abcd-ef')).toBeUndefined();
    expect(idPrefixRange('0'.repeat(33))).toBeUndefined();
  });
});
