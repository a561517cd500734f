import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import {
  Progress,
  formatBytes,
  formatDuration,
  renderProgressLine,
  type ProgressSnapshot,
} from './progress.js';

function sink(isTTY: boolean): PassThrough & { isTTY?: boolean; columns?: number; text: () => string } {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number; text: () => string };
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString()));
  s.isTTY = isTTY;
  s.columns = 120;
  s.text = () => out;
  return s;
}

describe('formatBytes', () => {
  it('uses binary units with three significant digits', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(12.3 * 1024 * 1024)).toBe('12.3 MiB');
    expect(formatBytes(456 * 1024 ** 3)).toBe('456 GiB');
    expect(formatBytes(-1)).toBe('? B');
  });
});

describe('formatDuration', () => {
  it('shows m:ss below an hour and h:mm:ss above, rounding up', () => {
    expect(formatDuration(6_100)).toBe('0:07');
    expect(formatDuration(720_000)).toBe('12:00');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(formatDuration(Number.NaN)).toBe('?');
  });
});

describe('renderProgressLine', () => {
  const base: ProgressSnapshot = {
    label: 'upload',
    done: 25 * 1024 * 1024,
    total: 100 * 1024 * 1024,
    elapsedMs: 5_000,
    rate: 5 * 1024 * 1024,
    etaMs: 15_000,
    finished: false,
  };
  it('shows bytes, bar, percent, rate and ETA', () => {
    expect(renderProgressLine(base, 200)).toBe(
      'upload  25.0 MiB / 100 MiB  [#####...............]   25%  5.00 MiB/s  ETA 0:15',
    );
  });
  it('shows the elapsed time when finished, and cuts to the width', () => {
    expect(renderProgressLine({ ...base, done: base.total!, finished: true }, 200)).toMatch(
      /100% {2}5\.00 MiB\/s {2}in 0:05$/,
    );
    expect(renderProgressLine(base, 10)).toBe('upload  25');
  });
  it('shows bytes and rate only without a total', () => {
    expect(renderProgressLine({ ...base, total: undefined, etaMs: undefined }, 200)).toBe(
      'upload  25.0 MiB  5.00 MiB/s',
    );
  });
});

describe('Progress', () => {
  it('redraws in place on a terminal, throttled, and ends the line on finish', () => {
    const clock = new ManualClock('2026-01-01T00:00:00Z');
    const out = sink(true);
    const p = new Progress({ stream: out, label: 'fetch', total: 1000, clock, redrawMs: 100 });
    clock.advance(1000);
    p.update(100);
    p.update(200); // within 100 ms of the previous draw: skipped
    clock.advance(1000);
    p.add(300);
    p.finish();
    p.update(999); // ignored after finish
    const draws = out
      .text()
      .split('\r')
      .filter((s) => s !== '');
    expect(draws).toHaveLength(3);
    expect(draws[0]).toContain('100 B / 1000 B');
    expect(draws[1]).toContain('500 B / 1000 B');
    expect(draws[1]).toContain('250 B/s');
    expect(draws[1]).toContain('ETA 0:02');
    expect(draws[2]?.endsWith('in 0:02\x1b[K\n')).toBe(true);
  });

  it('writes nothing when the stream is not a terminal, and reports occasional events instead', () => {
    const clock = new ManualClock(0);
    const out = sink(false);
    const events: ProgressSnapshot[] = [];
    const p = new Progress({
      stream: out,
      label: 'verify',
      clock,
      eventMs: 10_000,
      onEvent: (e) => events.push(e),
    });
    clock.advance(5_000);
    p.update(10);
    clock.advance(6_000);
    p.update(20);
    clock.advance(1_000);
    p.update(30);
    p.finish();
    expect(out.text()).toBe('');
    expect(events.map((e) => [e.done, e.finished])).toEqual([
      [20, false],
      [30, true],
    ]);
  });
});
