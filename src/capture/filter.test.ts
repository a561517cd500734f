import { describe, expect, it } from 'vitest';
import { CaptureFilterError } from './errors.js';
import { parseTableFilter } from './filter.js';

describe('parseTableFilter', () => {
  it('takes every table without flags', () => {
    const f = parseTableFilter(undefined, undefined);
    expect(f.all).toBe(true);
    expect(f.matches('x', 'y')).toBe(true);
  });

  it('matches listed schemas or listed tables', () => {
    const f = parseTableFilter(['app'], ['shop.orders']);
    expect(f.matches('app', 'anything')).toBe(true);
    expect(f.matches('shop', 'orders')).toBe(true);
    expect(f.matches('shop', 'items')).toBe(false);
    expect(f.matchesSchema('shop')).toBe(true);
    expect(f.matchesSchema('other')).toBe(false);
  });

  it('refuses malformed entries, naming them', () => {
    expect(() => parseTableFilter(undefined, ['orders'])).toThrow(CaptureFilterError);
    expect(() => parseTableFilter(undefined, ['a.b.c'])).toThrow(
      /--tables entry "a\.b\.c": expected schema\.table/,
    );
    expect(() => parseTableFilter(['a.b'], undefined)).toThrow(/--schemas entry "a\.b"/);
  });
});
