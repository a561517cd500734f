import type { Clock } from '../../lib/clock.js';
import { collectMetrics, METRICS_CONTENT_TYPE, type MetricsSources } from '../../scheduler/metrics.js';
import { principalOf } from '../context.js';
import { text } from '../response.js';
import { route, type Route } from '../router.js';

/**
 * `GET /metrics`: Prometheus text format for the scraping key's tenant (configure the scrape job with
 * `authorization: {credentials: bt_live_...}`). See src/scheduler/metrics.ts for the metrics.
 */
export function metricsRoutes(sources: MetricsSources, clock: Clock): Route[] {
  return [
    route({
      method: 'GET',
      path: '/metrics',
      operationId: 'metrics',
      summary:
        'Prometheus metrics: backups by status, last success per server, durations, sizes, schedule health',
      tags: ['metrics'],
      responses: {
        200: { description: 'Prometheus text exposition format 0.0.4', contentType: METRICS_CONTENT_TYPE },
      },
      async handle(_input, ctx) {
        const { tenantId } = principalOf(ctx);
        return text(await collectMetrics(sources, tenantId, clock.now()), METRICS_CONTENT_TYPE, 200, {
          'cache-control': 'no-store',
        });
      },
    }),
  ];
}
