import { messageOf } from '../lib/errors.js';
import type { Logger } from '../log/logger.js';
import type { ScheduleRepository } from '../store/schedules.js';
import type { TenantRepository } from '../store/tenants.js';
import { loadScheduleHealth, type HealthSources, type ScheduleHealth } from './health.js';
import type { Notifier } from './webhook.js';

/**
 * Watches every enabled schedule's health and announces transitions to the webhook: `schedule.unhealthy` when a
 * schedule turns unhealthy, `schedule.recovered` when it turns healthy again. Run by the scheduler loop as a
 * periodic task. The last seen status lives in memory: after a restart an unhealthy schedule is announced once
 * more (a repeated alert is better than a missed one), and several server processes each announce it.
 */
export interface HealthMonitorDeps extends HealthSources {
  readonly schedules: Pick<ScheduleRepository, 'list'>;
  readonly tenants: Pick<TenantRepository, 'list'>;
  readonly notifier: Notifier;
  readonly logger: Logger;
}

export class HealthMonitor {
  readonly #deps: HealthMonitorDeps;
  readonly #log: Logger;
  readonly #last = new Map<string, ScheduleHealth['status']>();

  constructor(deps: HealthMonitorDeps) {
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'health' });
  }

  /** Evaluates every schedule once; returns the health of each by schedule id. */
  async check(now: Date): Promise<ReadonlyMap<string, ScheduleHealth>> {
    const out = new Map<string, ScheduleHealth>();
    for (const tenant of await this.#deps.tenants.list()) {
      for (const schedule of await this.#deps.schedules.list({ tenantId: tenant.id })) {
        let health: ScheduleHealth;
        try {
          health = await loadScheduleHealth(this.#deps, schedule, now);
        } catch (err) {
          this.#log.error(
            { scheduleId: schedule.id, error: messageOf(err) },
            'Cannot evaluate schedule health',
          );
          continue;
        }
        out.set(schedule.id, health);
        const before = this.#last.get(schedule.id);
        this.#last.set(schedule.id, health.status);
        if (health.status === 'unhealthy' && before !== 'unhealthy') {
          this.#log.warn({ scheduleId: schedule.id, reasons: health.reasons }, 'Schedule is unhealthy');
          this.#deps.notifier.notify({
            event: 'schedule.unhealthy',
            tenant_id: schedule.tenantId,
            server_id: schedule.serverId,
            schedule_id: schedule.id,
            reasons: health.reasons,
          });
        } else if (health.status === 'healthy' && before === 'unhealthy') {
          this.#log.info({ scheduleId: schedule.id }, 'Schedule recovered');
          this.#deps.notifier.notify({
            event: 'schedule.recovered',
            tenant_id: schedule.tenantId,
            server_id: schedule.serverId,
            schedule_id: schedule.id,
            reasons: [],
          });
        }
        if (health.warnings.length > 0 && before === undefined) {
          this.#log.warn({ scheduleId: schedule.id, warnings: health.warnings }, 'Schedule warning');
        }
      }
    }
    return out;
  }
}
