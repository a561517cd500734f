import type { Route } from '../router.js';
import { backupRoutes } from './backups.js';
import { checkRoutes } from './checks.js';
import type { RouteDeps } from './common.js';
import { scheduleRoutes } from './schedules.js';
import { serverRoutes } from './servers.js';
import { sessionRoutes } from './session.js';

export type { RouteDeps } from './common.js';

/** Every route of the control-plane API under /api/v1, one file per resource. */
export function controlPlaneRoutes(deps: RouteDeps): Route[] {
  return [
    ...sessionRoutes(deps),
    ...serverRoutes(deps),
    ...scheduleRoutes(deps),
    ...backupRoutes(deps),
    ...checkRoutes(deps),
  ];
}
