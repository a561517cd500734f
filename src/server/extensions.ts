import type { App as AppServices } from '../app.js';
import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { RouteDeps } from './routes/common.js';
import type { Route } from './router.js';

/**
 * How other parts of dbtrail join `dbtrail server`: an extension may mount routes into the same HTTP app and may
 * run a service in the same process for as long as the server runs.
 *
 * - The dashboard mounts its pages and assets (`/`, `/assets/{file}`, declared `auth: 'none'`, `hidden: true`).
 * - The job runner mounts the agent API (`/api/v1/agent/...`) and `/metrics`, and starts the scheduler loop and
 *   the embedded agent as services.
 *
 * The list of extensions of the real server is SERVER_EXTENSIONS in src/cli/commands/server.ts; tests pass their
 * own list to createControlPlane / serveControlPlane.
 */
export interface ExtensionContext {
  /** The composition root: config, clock, state store. */
  readonly app: AppServices;
  /** What the control-plane routes use (store, clock, secret box, logger); the same objects, shared. */
  readonly deps: RouteDeps;
  readonly logger: Logger;
}

export interface ServiceContext extends ExtensionContext {
  /** Base URL the API is served at, e.g. `http://127.0.0.1:8420` (an embedded agent talks to it). */
  readonly url: string;
  /** Aborted when the server shuts down; `stop()` is called as well. */
  readonly signal: AbortSignal;
}

export interface RunningService {
  /** Stops at a safe boundary; must not reject for ordinary shutdown. */
  stop(): Promise<void>;
}

export interface ServerExtension {
  /** For logs and error messages: `dashboard`, `scheduler`, `agent`. */
  readonly name: string;
  /** Routes served next to the API; their paths must not overlap the API's. */
  routes?(ctx: ExtensionContext): readonly Route[];
  /** Started in list order once the server listens; stopped in reverse order before it closes. */
  start?(ctx: ServiceContext): Promise<RunningService>;
}

/**
 * Starts the services of `extensions` in order. If one fails to start, the ones already started are stopped and
 * the error is thrown. The result stops them all, newest first, even when one of them fails to stop.
 */
export async function startExtensions(
  extensions: readonly ServerExtension[],
  ctx: ServiceContext,
): Promise<RunningService> {
  const started: { name: string; service: RunningService }[] = [];
  const stopAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const { name, service } of started.splice(0).reverse()) {
      try {
        await service.stop();
      } catch (err) {
        ctx.logger.error({ err, extension: name }, 'extension failed to stop');
        errors.push(err);
      }
    }
    if (errors.length > 0) {
      throw new Error(`Cannot stop server extensions cleanly: ${errors.map(messageOf).join('; ')}`);
    }
  };
  for (const extension of extensions) {
    if (extension.start === undefined) continue;
    try {
      const service = await extension.start({
        ...ctx,
        logger: ctx.logger.child({ extension: extension.name }),
      });
      started.push({ name: extension.name, service });
    } catch (err) {
      await stopAll().catch(() => undefined);
      throw err;
    }
  }
  return { stop: stopAll };
}
