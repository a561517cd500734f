import type { Config } from './config/schema.js';
import { systemClock, type Clock } from './lib/clock.js';
import { openSqliteStateStore } from './store/sqlite/state-store.js';
import type { ImportResult } from './store/postgres/import-sqlite.js';
import type { StateStore } from './store/state-store.js';
import { StateUrlError } from './store/errors.js';
import { parseStateUrl } from './store/state-url.js';

/**
 * The composition root: the only module that knows the concrete backends. It reads the config, opens each
 * backend and hands out services typed by their interfaces; commands, the HTTP server and the scheduler take an
 * App and never import a backend themselves.
 */
export interface App {
  readonly config: Config;
  readonly clock: Clock;
  readonly store: StateStore;
  /** Closes every service, newest first, even when one fails; idempotent. */
  close(): Promise<void>;
}

export interface AppOptions {
  /** Time source for every service (tests, retention drills); the wall clock by default. */
  readonly clock?: Clock;
  /**
   * The process runs for long (server, agent, capture): the store may use background work (SQLite checkpoints
   * in a worker thread) that a one-shot command should not pay for.
   */
  readonly longRunning?: boolean;
}

export async function openApp(config: Config, options: AppOptions = {}): Promise<App> {
  const clock = options.clock ?? systemClock;
  const closers: (() => Promise<void>)[] = [];
  try {
    const store = await openStateStore(config.stateUrl, clock, options.longRunning === true);
    closers.push(() => store.close());
    return new OpenApp(config, clock, store, closers);
  } catch (err) {
    await closeAll(closers);
    throw err;
  }
}

/** The state store named by `stateUrl`. */
export async function openStateStore(
  stateUrl: string,
  clock: Clock = systemClock,
  longRunning = false,
): Promise<StateStore> {
  const location = parseStateUrl(stateUrl);
  switch (location.kind) {
    case 'sqlite':
      return openSqliteStateStore({ path: location.path, clock, backgroundCheckpoints: longRunning });
    case 'postgres': {
      // Loaded only when used, so that SQLite installations never load the PostgreSQL driver.
      const { openPostgresStateStore } = await import('./store/postgres/state-store.js');
      return openPostgresStateStore({ url: location.url, clock });
    }
  }
}

/**
 * Copies the state at `fromUrl` (sqlite:PATH) into the PostgreSQL database at `toUrl` (`dbtrail migrate-state`):
 * all of it in one PostgreSQL transaction, verified, or nothing.
 */
export async function migrateState(
  fromUrl: string,
  toUrl: string,
  options: { readonly replace?: boolean; readonly onTable?: (table: string, rows: number) => void } = {},
): Promise<ImportResult> {
  const from = parseStateUrl(fromUrl);
  const to = parseStateUrl(toUrl);
  if (from.kind !== 'sqlite' || from.path === ':memory:') {
    throw new StateUrlError(
      `Cannot migrate state from ${from.kind === 'sqlite' ? fromUrl : from.display}: expected sqlite:PATH of a database file`,
      {
        fields: { from: from.kind === 'sqlite' ? fromUrl : from.display },
      },
    );
  }
  if (to.kind !== 'postgres') {
    throw new StateUrlError(`Cannot migrate state to ${toUrl}: expected a postgres:// URL`, {
      fields: { to: toUrl },
    });
  }
  const { importSqliteState } = await import('./store/postgres/import-sqlite.js');
  return importSqliteState({ sqlitePath: from.path, targetUrl: to.url, ...options });
}

class OpenApp implements App {
  readonly config: Config;
  readonly clock: Clock;
  readonly store: StateStore;
  readonly #closers: (() => Promise<void>)[];
  #closing: Promise<void> | undefined;

  constructor(config: Config, clock: Clock, store: StateStore, closers: (() => Promise<void>)[]) {
    this.config = config;
    this.clock = clock;
    this.store = store;
    this.#closers = closers;
  }

  close(): Promise<void> {
    this.#closing ??= closeAll(this.#closers);
    return this.#closing;
  }
}

async function closeAll(closers: (() => Promise<void>)[]): Promise<void> {
  const errors: Error[] = [];
  for (const close of closers.splice(0).reverse()) {
    try {
      await close();
    } catch (err) {
      errors.push(err instanceof Error ? err : new Error(String(err)));
    }
  }
  // Report the first failure; the others are usually its consequences.
  if (errors[0] !== undefined) throw errors[0];
}
