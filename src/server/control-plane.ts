import type { App as AppServices } from '../app.js';
import type { Clock } from '../lib/clock.js';
import { loadSecretBox, type SecretBox } from '../lib/secret-box.js';
import type { Logger } from '../log/logger.js';
import type { StateStore } from '../store/state-store.js';
import { hashApiKey } from './api-keys.js';
import type { App } from './app.js';
import { createApi, type ApiOptions } from './api.js';
import type { VerifyApiKey } from './auth.js';
import { startExtensions, type ExtensionContext, type ServerExtension } from './extensions.js';
import type { RunningServer } from './http.js';
import { controlPlaneRoutes } from './routes/index.js';
import type { RouteDeps } from './routes/common.js';

/**
 * The control plane: the REST API of `dbtrail server` (src/server/routes/), with authentication by API key
 * against the state store, per-key rate limiting and the OpenAPI document, plus whatever routes the extensions
 * mount. `createControlPlane` builds the HTTP app (tests call `.request()` or `.listen()`); `serveControlPlane`
 * also listens and runs the extensions' services, which is what the `server` command does.
 */
export interface ControlPlaneOptions {
  readonly logger: Logger;
  /** Dashboard, agent API, metrics, scheduler...: see src/server/extensions.ts. */
  readonly extensions?: readonly ServerExtension[];
  /** The box sealing server passwords; by default the install's (DBTRAIL_SECRET_KEY_FILE or <home>/secret.key). */
  readonly secrets?: SecretBox;
  readonly rateLimit?: ApiOptions['rateLimit'];
  readonly bodyLimit?: number;
  /**
   * A server's binlog retention in seconds, for the health warning "dump interval longer than binlog retention";
   * read when a response is built (the job runner learns it from its agents after the control plane exists).
   */
  readonly binlogRetentionSeconds?: (serverId: string, app: AppServices) => number | null | undefined;
}

export interface ControlPlane {
  /** The HTTP app: `request()` without a socket, `listen()` on one. */
  readonly http: App;
  readonly deps: RouteDeps;
  readonly extensions: readonly ServerExtension[];
}

export function createControlPlane(app: AppServices, options: ControlPlaneOptions): ControlPlane {
  const logger = options.logger;
  const secrets =
    options.secrets ?? loadSecretBox({ home: app.config.home, keyFile: app.config.secretKeyFile });
  const retention = options.binlogRetentionSeconds;
  const deps: RouteDeps = Object.freeze({
    store: app.store,
    clock: app.clock,
    secrets,
    logger,
    ...(retention === undefined
      ? {}
      : { binlogRetentionSeconds: (serverId: string) => retention(serverId, app) }),
  });
  const extensions = options.extensions ?? [];
  const extensionContext: ExtensionContext = { app, deps, logger };
  const routes = [
    ...controlPlaneRoutes(deps),
    ...extensions.flatMap((e) =>
      e.routes === undefined
        ? []
        : e.routes({ ...extensionContext, logger: logger.child({ extension: e.name }) }),
    ),
  ];
  const http = createApi({
    routes,
    logger,
    verifyApiKey: apiKeyVerifier(app.store, app.clock, logger),
    clock: app.clock,
    info: {
      title: 'dbtrail',
      version: '1',
      description: 'Control plane of dbtrail: servers, schedules, on-demand backups and backup history',
    },
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
  });
  return Object.freeze({ http, deps, extensions });
}

/**
 * Checks a presented key against the store: known by its hash and not revoked. A use is recorded at most once a
 * minute per key, without delaying the request.
 */
export function apiKeyVerifier(store: StateStore, clock: Clock, logger: Logger): VerifyApiKey {
  return async (token) => {
    const key = await store.apiKeys.findByHash(hashApiKey(token));
    if (key === undefined || key.revokedAt !== null) return undefined;
    const now = clock.now();
    if (key.lastUsedAt === null || now.getTime() - key.lastUsedAt.getTime() >= 60_000) {
      store.apiKeys.touch(key.id, now).catch((err: unknown) => {
        logger.warn({ err, keyId: key.id }, 'cannot record the use of an API key');
      });
    }
    return { tenantId: key.tenantId, keyId: key.id };
  };
}

export interface ServeOptions extends ControlPlaneOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

export interface RunningControlPlane {
  readonly url: string;
  readonly server: RunningServer;
  readonly controlPlane: ControlPlane;
  /** Stops the extensions' services (newest first), then the HTTP server. Idempotent. */
  close(): Promise<void>;
}

/** Builds the control plane, listens, and starts the extensions' services. */
export async function serveControlPlane(
  app: AppServices,
  options: ServeOptions,
): Promise<RunningControlPlane> {
  const controlPlane = createControlPlane(app, options);
  const server = await controlPlane.http.listen(options.host, options.port);
  const abort = new AbortController();
  let services;
  try {
    services = await startExtensions(controlPlane.extensions, {
      app,
      deps: controlPlane.deps,
      logger: options.logger,
      url: server.url,
      signal: abort.signal,
    });
  } catch (err) {
    await server.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    server,
    controlPlane,
    close() {
      closing ??= (async () => {
        abort.abort();
        try {
          await services.stop();
        } finally {
          await server.close();
        }
      })();
      return closing;
    },
  };
}

/** The host and port of a listen address, `host:port` or `[v6-address]:port`; undefined when malformed. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim());
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: match[1] ?? match[2]!, port };
}
