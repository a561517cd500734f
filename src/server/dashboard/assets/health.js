// Health for people: what the API reports under `health`, and what the page can tell when it reports nothing.
// "A silently failing backup schedule is worse than no schedule": every problem is listed, never averaged away.

/**
 * Health as the API reports it on a schedule (`healthy`, `unhealthy`, `disabled`) or a server (`healthy`,
 * `unhealthy`, `unprotected`), with `reasons` and `warnings`, as { level: ok | warn | bad | off | unknown, label,
 * reasons }. Warnings on a healthy schedule (binlogs kept for less than the dump interval) still need a person.
 */
export function normalizeHealth(value) {
  if (value === undefined || value === null || typeof value !== 'object') return undefined;
  const reasons = [...(value.reasons ?? []), ...(value.warnings ?? [])].filter((r) => typeof r === 'string');
  switch (value.status) {
    case 'healthy':
      return reasons.length > 0 ? level('warn', 'Needs attention', reasons) : level('ok', 'Healthy', reasons);
    case 'unhealthy':
      return level('bad', 'Unhealthy', reasons);
    case 'unprotected':
      return level('warn', 'Unprotected', reasons);
    case 'disabled':
      return level('off', 'Disabled', reasons);
    default:
      return undefined;
  }
}

function level(lvl, label, reasons = []) {
  return { level: lvl, label, reasons };
}

export function scheduleHealth(schedule) {
  if (schedule.enabled === false) return level('off', 'Disabled');
  return normalizeHealth(schedule.health) ?? level('unknown', 'Not known yet');
}

const ORDER = ['ok', 'off', 'unknown', 'warn', 'bad'];
const LABELS = { ok: 'Healthy', warn: 'Needs attention', bad: 'Unhealthy' };

/**
 * A server's own health when the API reports one; otherwise derived from its schedules (all of the tenant's may
 * be passed) and its backups (newest first): whether anything protects it, whether a schedule is failing, and
 * whether its last backup worked.
 */
export function serverHealth(server, schedules, backups) {
  const own = normalizeHealth(server.health);
  if (own !== undefined) return own;
  const reasons = [];
  let worst = 'ok';
  const raise = (lvl) => {
    if (ORDER.indexOf(lvl) > ORDER.indexOf(worst)) worst = lvl;
  };
  const enabled = schedules.filter((s) => s.server_id === server.id && s.enabled !== false);
  if (enabled.length === 0) {
    reasons.push('No enabled schedule: this server is backed up only on demand');
    raise('warn');
  }
  for (const schedule of enabled) {
    const health = scheduleHealth(schedule);
    if (health.level === 'bad') {
      raise('bad');
      reasons.push(
        ...(health.reasons.length > 0 ? health.reasons : [`Schedule ${schedule.cron} is unhealthy`]),
      );
    } else if (health.level === 'warn') {
      raise('warn');
      reasons.push(...health.reasons);
    }
  }
  const finished = backups.filter((b) => b.status === 'succeeded' || b.status === 'failed');
  if (finished.length === 0) {
    reasons.push('No successful backup yet');
    raise('warn');
  } else if (finished[0].status === 'failed') {
    reasons.push(`Last backup failed: ${finished[0].error?.message ?? 'no reason recorded'}`);
    raise('bad');
  }
  return level(worst, LABELS[worst] ?? 'Unknown', reasons);
}
