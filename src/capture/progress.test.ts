import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CaptureStatusLine, RateMeter, renderCaptureLine } from './progress.js';

const snap = {
  position: { file: 'binlog.000012', position: 48213, gtidSet: '0-1-9' },
  lagSeconds: 3,
  rowsPerSecond: 12345.6,
  changes: 1234567,
  transactions: 10,
};

describe('capture status line', () => {
  it('shows position, lag and rate', () => {
    expect(renderCaptureLine('stream', snap, 200)).toBe(
      'stream  binlog.000012:48213  lag 3 s  12,346 rows/s  1,234,567 changes',
    );
    expect(renderCaptureLine('stream', { ...snap, position: null, lagSeconds: undefined }, 200)).toMatch(
      /^stream {2}starting {2}lag \?/,
    );
    expect(renderCaptureLine('stream', snap, 20)).toHaveLength(20);
  });

  it('draws in place on a terminal only, at most every redraw interval', () => {
    const out = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    out.isTTY = true;
    out.columns = 100;
    const line = new CaptureStatusLine(out, 'stream', 250);
    line.update(snap, 1000);
    line.update(snap, 1100);
    line.update(snap, 1300);
    line.finish();
    expect(text.split('\r').length - 1).toBe(2);
    expect(text.endsWith('\n')).toBe(true);

    const pipe = new PassThrough();
    let piped = '';
    pipe.on('data', (d: Buffer) => (piped += d.toString()));
    const quiet = new CaptureStatusLine(pipe, 'stream');
    quiet.update(snap, 1000, true);
    quiet.finish();
    expect(piped).toBe('');
  });

  it('measures a rate over intervals of at least a second', () => {
    const m = new RateMeter(0);
    expect(m.sample(500, 500)).toBe(0);
    expect(m.sample(2000, 1000)).toBe(2000);
    expect(m.sample(2500, 1500)).toBe(2000);
  });
});
