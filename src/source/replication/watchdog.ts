/**
 * Detects a silent connection. The server sends a HEARTBEAT event whenever it has had nothing to send for one
 * heartbeat period, so on a live connection bytes never stop for much longer than that; silence beyond the limit
 * (about 2.5 periods) means the server or the network is gone without a FIN, which TCP alone may take hours to
 * notice.
 *
 * `touch()` is called for every chunk received and only records the time: the timer is re-armed lazily when it
 * fires, so a busy stream does not pay for a timer per chunk. While the consumer is slow and the socket is paused
 * on purpose, the server cannot be heard: `suspend()` stops counting until `resume()`.
 */
export class SilenceWatchdog {
  readonly limitMs: number;
  readonly #onSilence: (silentMs: number) => void;
  #last = 0;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(limitMs: number, onSilence: (silentMs: number) => void) {
    if (!Number.isFinite(limitMs) || limitMs <= 0) {
      throw new RangeError(
        `Cannot start heartbeat watchdog: limit must be a positive number of ms, got ${limitMs}`,
      );
    }
    this.limitMs = limitMs;
    this.#onSilence = onSilence;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts (or restarts) counting from now. */
  start(): void {
    this.#running = true;
    this.#last = Date.now();
    this.#arm(this.limitMs);
  }

  /** Something arrived. */
  touch(): void {
    this.#last = Date.now();
  }

  /** Stops counting while the socket is paused by us; the time paused is not silence. */
  suspend(): void {
    this.#running = false;
    this.#clear();
  }

  resume(): void {
    if (!this.#running) this.start();
  }

  stop(): void {
    this.#running = false;
    this.#clear();
  }

  #arm(ms: number): void {
    this.#clear();
    this.#timer = setTimeout(() => this.#check(), ms);
    // A watchdog alone must not keep the process alive.
    this.#timer.unref();
  }

  #clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    this.#timer = undefined;
    if (!this.#running) return;
    const silent = Date.now() - this.#last;
    if (silent >= this.limitMs) {
      this.#running = false;
      this.#onSilence(silent);
      return;
    }
    this.#arm(this.limitMs - silent);
  }
}

/** The silence allowed for a heartbeat period: two and a half periods, so one late heartbeat is not fatal. */
export function silenceLimitFor(heartbeatMs: number): number {
  return Math.ceil(heartbeatMs * 2.5);
}
