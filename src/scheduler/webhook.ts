import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';

/**
 * Events the control plane announces to a configured webhook (`notify.webhookUrl`, DBTRAIL_WEBHOOK_URL): a backup
 * failed, a schedule became unhealthy, a schedule recovered, a drift check found drift. "A silently failing backup schedule is worse than no
 * schedule": the webhook is how a failure reaches a person without anyone looking at the dashboard.
 *
 * The body is JSON, `{"event": "...", "at": "<ISO time>", ...fields}`. Public surface: add fields, never rename.
 */
export type ControlPlaneEvent =
  | {
      readonly event: 'backup.failed';
      readonly tenant_id: string;
      readonly server_id: string | null;
      readonly server_name: string | null;
      readonly schedule_id: string | null;
      readonly backup_id: string | null;
      readonly job_id: string;
      readonly error: { readonly code: string | null; readonly message: string };
    }
  | {
      /** A drift check found rows that differ from the last dump plus captured changes, or could not run. */
      readonly event: 'drift.detected' | 'drift.failed';
      readonly tenant_id: string;
      readonly server_id: string;
      readonly server_name: string;
      readonly drifted_tables: readonly string[];
      readonly drifted_rows: number;
      readonly coordinates: {
        readonly file: string;
        readonly position: number;
        readonly gtid: string | null;
      } | null;
      readonly error: string | null;
    }
  | {
      readonly event: 'schedule.unhealthy' | 'schedule.recovered';
      readonly tenant_id: string;
      readonly server_id: string;
      readonly schedule_id: string;
      readonly reasons: readonly string[];
    };

export interface Notifier {
  /** Never throws and never waits for the receiver: delivery problems are logged. */
  notify(event: ControlPlaneEvent): void;
  /** Resolves when every delivery started so far has ended (tests, shutdown). */
  flush(): Promise<void>;
}

/** A notifier that drops every event (no webhook configured). */
export const silentNotifier: Notifier = Object.freeze({
  notify: () => undefined,
  flush: () => Promise.resolve(),
});

export interface WebhookOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Per attempt (default 5 s). */
  readonly timeoutMs?: number;
  /** Attempts per event (default 3), one second apart and doubling. */
  readonly attempts?: number;
  readonly now?: () => Date;
  readonly fetch?: typeof fetch;
}

export class WebhookNotifier implements Notifier {
  readonly #options: WebhookOptions;
  readonly #pending = new Set<Promise<void>>();
  readonly #log: Logger;
  /** Where events go, without a path or query: webhook URLs often carry a token there. */
  readonly #shown: string;

  constructor(options: WebhookOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError('Cannot use webhook URL: expected an absolute http:// or https:// URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`Cannot use webhook URL: expected http:// or https://, got ${url.protocol}//`);
    }
    this.#options = options;
    this.#shown = url.origin;
    this.#log = options.logger.child({ component: 'webhook', webhook: this.#shown });
  }

  notify(event: ControlPlaneEvent): void {
    const delivery = this.#deliver(event).finally(() => this.#pending.delete(delivery));
    this.#pending.add(delivery);
  }

  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #deliver(event: ControlPlaneEvent): Promise<void> {
    const send = this.#options.fetch ?? fetch;
    const attempts = this.#options.attempts ?? 3;
    const body = JSON.stringify({ ...event, at: (this.#options.now?.() ?? new Date()).toISOString() });
    let delay = 1_000;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await send(this.#options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'dbtrail' },
          body,
          signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5_000),
        });
        // Drain the body so the connection can be reused.
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) {
          this.#log.debug({ event: event.event, status: response.status }, 'Webhook delivered');
          return;
        }
        // 4xx other than 408/429 will not get better by retrying.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) {
          this.#log.warn({ event: event.event, status: response.status }, 'Webhook refused the event');
          return;
        }
        this.#log.warn({ event: event.event, status: response.status, attempt }, 'Webhook failed');
      } catch (err) {
        this.#log.warn({ event: event.event, error: messageOf(err), attempt }, 'Cannot reach the webhook');
      }
      if (attempt < attempts) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
    }
    this.#log.error({ event: event.event }, 'Cannot deliver event to the webhook: giving up');
  }
}
