import { DbtrailError, type ErrorOptions } from '../../lib/errors.js';

/**
 * The dashboard's static files could not be read when the routes were built: an installation whose build did not
 * copy `src/server/dashboard/assets` next to the compiled code (the `build:assets` script in package.json).
 */
export class DashboardAssetError extends DbtrailError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('DASHBOARD_ASSET_MISSING', 'config', message, options);
  }
}
