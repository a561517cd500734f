import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silenceLimitFor, SilenceWatchdog } from './watchdog.js';

describe('SilenceWatchdog', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires once after the limit of silence', () => {
    const onSilence = vi.fn();
    const dog = new SilenceWatchdog(1000, onSilence);
    dog.start();
    vi.advanceTimersByTime(999);
    expect(onSilence).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onSilence).toHaveBeenCalledTimes(1);
    expect(onSilence.mock.calls[0]?.[0]).toBe(1000);
    vi.advanceTimersByTime(10_000);
    expect(onSilence).toHaveBeenCalledTimes(1);
  });

  it('counts from the last activity', () => {
    const onSilence = vi.fn();
    const dog = new SilenceWatchdog(1000, onSilence);
    dog.start();
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(600);
      dog.touch();
    }
    expect(onSilence).not.toHaveBeenCalled();
    vi.advanceTimersByTime(999);
    expect(onSilence).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onSilence).toHaveBeenCalledTimes(1);
  });

  it('does not count time while suspended (socket paused by the consumer)', () => {
    const onSilence = vi.fn();
    const dog = new SilenceWatchdog(1000, onSilence);
    dog.start();
    vi.advanceTimersByTime(900);
    dog.suspend();
    vi.advanceTimersByTime(60_000);
    expect(onSilence).not.toHaveBeenCalled();
    dog.resume();
    vi.advanceTimersByTime(999);
    expect(onSilence).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onSilence).toHaveBeenCalledTimes(1);
  });

  it('stays quiet after stop', () => {
    const onSilence = vi.fn();
    const dog = new SilenceWatchdog(100, onSilence);
    dog.start();
    dog.stop();
    vi.advanceTimersByTime(1000);
    expect(onSilence).not.toHaveBeenCalled();
    expect(dog.running).toBe(false);
  });

  it('allows two and a half heartbeat periods', () => {
    expect(silenceLimitFor(2000)).toBe(5000);
    expect(() => new SilenceWatchdog(0, () => undefined)).toThrow(RangeError);
  });
});
