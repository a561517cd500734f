import type { App as AppServices } from '../../app.js';
import type { ServerExtension } from '../extensions.js';
import { coverageRoutes } from './coverage.js';
import { dashboardRoutes, type DashboardOptions } from './routes.js';

export interface DashboardExtensionOptions extends DashboardOptions {
  /**
   * A server's binlog retention in seconds as its agents last reported it (0 = never purged), for the timeline's
   * retention horizon; undefined or null when unknown. The job runner knows it (`AgentService.factsOf`).
   */
  readonly binlogRetentionSeconds?: (serverId: string, app: AppServices) => number | null | undefined;
}

/**
 * The dashboard as a part of `dbtrail server`: the page and its assets at `/` and `/assets/{file}`, and the
 * coverage route its recoverability timeline reads (`GET /api/v1/servers/{server_id}/coverage`).
 */
export function dashboardExtension(options: DashboardExtensionOptions = {}): ServerExtension {
  const retention = options.binlogRetentionSeconds;
  return {
    name: 'dashboard',
    routes: ({ app, deps }) => [
      ...dashboardRoutes(options.assetDir === undefined ? {} : { assetDir: options.assetDir }),
      ...coverageRoutes({
        store: deps.store,
        clock: deps.clock,
        ...(retention === undefined ? {} : { binlogRetentionSeconds: (id: string) => retention(id, app) }),
      }),
    ],
  };
}
