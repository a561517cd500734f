import type { Writable } from 'node:stream';
import { systemClock, type Clock } from './clock.js';

/**
 * A progress line for long byte-moving steps: `upload  1.2 GiB / 4.0 GiB  [#####.........]  30%  85.3 MiB/s  ETA 0:34`.
 * It draws on its stream only when that stream is a terminal, redrawing in place at most every `redrawMs`; on
 * anything else it draws nothing and instead hands a snapshot to `onEvent` every `eventMs` (for a structured log
 * line) and once at the end.
 */
export interface ProgressOptions {
  readonly stream: Writable & { isTTY?: boolean; columns?: number };
  /** The step's name, shown first on the line. */
  readonly label: string;
  /** Total bytes, when known; without it the line shows bytes and rate only. */
  readonly total?: number;
  readonly clock?: Clock;
  readonly redrawMs?: number;
  readonly onEvent?: (snapshot: ProgressSnapshot) => void;
  readonly eventMs?: number;
}

export interface ProgressSnapshot {
  readonly label: string;
  readonly done: number;
  readonly total: number | undefined;
  readonly elapsedMs: number;
  /** Average bytes per second since the start; 0 before any time has passed. */
  readonly rate: number;
  /** Estimated milliseconds left; undefined without a total or a rate. */
  readonly etaMs: number | undefined;
  readonly finished: boolean;
}

const BAR_WIDTH = 20;

export class Progress {
  readonly #options: ProgressOptions;
  readonly #clock: Clock;
  readonly #tty: boolean;
  readonly #startMs: number;
  #done = 0;
  #total: number | undefined;
  #lastDrawMs = Number.NEGATIVE_INFINITY;
  #lastEventMs: number;
  #finished = false;

  constructor(options: ProgressOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#tty = options.stream.isTTY === true;
    this.#startMs = this.#clock.now().getTime();
    this.#lastEventMs = this.#startMs;
    this.#total = options.total;
  }

  /** Sets the bytes done so far (and the total, when it became known). */
  update(done: number, total?: number): void {
    if (this.#finished) return;
    this.#done = done;
    if (total !== undefined) this.#total = total;
    this.#tick(false);
  }

  /** Adds `n` bytes to the bytes done. */
  add(n: number): void {
    this.update(this.#done + n);
  }

  /** Draws the final state and ends the line; later updates are ignored. */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#tick(true);
  }

  snapshot(): ProgressSnapshot {
    const elapsedMs = Math.max(0, this.#clock.now().getTime() - this.#startMs);
    const rate = elapsedMs > 0 ? (this.#done * 1000) / elapsedMs : 0;
    const left = this.#total === undefined ? undefined : Math.max(0, this.#total - this.#done);
    const etaMs = left === undefined || rate <= 0 ? undefined : (left / rate) * 1000;
    return {
      label: this.#options.label,
      done: this.#done,
      total: this.#total,
      elapsedMs,
      rate,
      etaMs,
      finished: this.#finished,
    };
  }

  #tick(final: boolean): void {
    const nowMs = this.#clock.now().getTime();
    if (this.#tty) {
      if (!final && nowMs - this.#lastDrawMs < (this.#options.redrawMs ?? 100)) return;
      this.#lastDrawMs = nowMs;
      const width = Math.max(20, (this.#options.stream.columns ?? 80) - 1);
      // \r returns to the line start; ESC [ K clears what a longer previous line left behind.
      this.#options.stream.write(`\r${renderProgressLine(this.snapshot(), width)}\x1b[K${final ? '\n' : ''}`);
      return;
    }
    const onEvent = this.#options.onEvent;
    if (onEvent === undefined) return;
    if (final || nowMs - this.#lastEventMs >= (this.#options.eventMs ?? 10_000)) {
      this.#lastEventMs = nowMs;
      onEvent(this.snapshot());
    }
  }
}

/** The one-line rendering of a snapshot, cut to `width` characters. */
export function renderProgressLine(s: ProgressSnapshot, width: number): string {
  const parts = [s.label];
  if (s.total !== undefined && s.total > 0) {
    const ratio = Math.min(1, s.done / s.total);
    const filled = Math.round(ratio * BAR_WIDTH);
    parts.push(`${formatBytes(s.done)} / ${formatBytes(s.total)}`);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`);
    parts.push(`${Math.floor(ratio * 100)}%`.padStart(4));
  } else {
    parts.push(formatBytes(s.done));
  }
  parts.push(`${formatBytes(s.rate)}/s`);
  if (s.finished) parts.push(`in ${formatDuration(s.elapsedMs)}`);
  else if (s.etaMs !== undefined) parts.push(`ETA ${formatDuration(s.etaMs)}`);
  const line = parts.join('  ');
  return line.length > width ? line.slice(0, width) : line;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Binary units with three significant digits: `0 B`, `999 B`, `1.50 KiB`, `12.3 MiB`, `456 GiB`. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '? B';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** `m:ss` below an hour, `h:mm:ss` above, rounded up to the second: `0:07`, `12:00`, `1:02:03`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
