import type { Writable } from 'node:stream';
import type { BinlogCoordinates } from '../store/change-index.js';

/**
 * The capture status line: `stream  binlog.000012:48213  lag 0 s  12,345 rows/s  1,234,567 changes`. Drawn in place
 * on a terminal (at most every `redrawMs`); elsewhere nothing is drawn and the caller logs snapshots instead.
 * `src/lib/progress.ts` is about bytes with a total and an ETA; capture has neither, so it has its own line.
 */
export interface CaptureSnapshot {
  readonly position: BinlogCoordinates | null;
  /** Seconds the newest event read is behind the wall clock; 0 when caught up; undefined before any event. */
  readonly lagSeconds: number | undefined;
  /** Row changes read per second over the last interval. */
  readonly rowsPerSecond: number;
  /** Row changes committed by this run. */
  readonly changes: number;
  readonly transactions: number;
}

export function renderCaptureLine(label: string, s: CaptureSnapshot, width: number): string {
  const parts = [label];
  parts.push(s.position === null ? 'starting' : `${s.position.file}:${s.position.position}`);
  parts.push(s.lagSeconds === undefined ? 'lag ?' : `lag ${s.lagSeconds} s`);
  parts.push(`${groupDigits(Math.round(s.rowsPerSecond))} rows/s`);
  parts.push(`${groupDigits(s.changes)} changes`);
  const line = parts.join('  ');
  return line.length > width ? line.slice(0, width) : line;
}

function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export class CaptureStatusLine {
  readonly #stream: Writable & { isTTY?: boolean; columns?: number };
  readonly #label: string;
  readonly #redrawMs: number;
  #lastDraw = 0;
  #drawn = false;

  constructor(stream: Writable & { isTTY?: boolean; columns?: number }, label: string, redrawMs = 250) {
    this.#stream = stream;
    this.#label = label;
    this.#redrawMs = redrawMs;
  }

  get enabled(): boolean {
    return this.#stream.isTTY === true;
  }

  update(s: CaptureSnapshot, nowMs: number, force = false): void {
    if (!this.enabled) return;
    if (!force && nowMs - this.#lastDraw < this.#redrawMs) return;
    this.#lastDraw = nowMs;
    const width = Math.max(20, (this.#stream.columns ?? 80) - 1);
    // \r returns to the line start; ESC [ K clears what a longer previous line left behind.
    this.#stream.write(`\r${renderCaptureLine(this.#label, s, width)}\x1b[K`);
    this.#drawn = true;
  }

  /** Ends the line so later output starts on a fresh one. */
  finish(): void {
    if (this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }
}

/** Rows per second over a sliding interval, from a running total. */
export class RateMeter {
  #lastMs: number;
  #lastCount = 0;
  #rate = 0;

  constructor(nowMs: number) {
    this.#lastMs = nowMs;
  }

  sample(count: number, nowMs: number): number {
    const dt = nowMs - this.#lastMs;
    if (dt >= 1000) {
      this.#rate = ((count - this.#lastCount) * 1000) / dt;
      this.#lastMs = nowMs;
      this.#lastCount = count;
    }
    return this.#rate;
  }
}
