/**
 * One scheduler process for the two-process test: the production Scheduler and AgentService over the SQLite state
 * file named by DBTRAIL_TEST_STATE (or the PostgreSQL database at DBTRAIL_TEST_STATE_URL), with "now" read from the
 * file DBTRAIL_TEST_CLOCK (an ISO time the test moves), ticking every DBTRAIL_TEST_TICK_MS. Prints one JSON line per tick. SIGTERM stops it after the tick in progress.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { AgentService } from '../../src/agent/service.js';
import { openStateStore } from '../../src/app.js';
import type { Clock } from '../../src/lib/clock.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { openSqliteStateStore } from '../../src/store/sqlite/state-store.js';

const clockFile = process.env['DBTRAIL_TEST_CLOCK']!;
const clock: Clock = { now: () => new Date(readFileSync(clockFile, 'utf8').trim()) };
const logger = pino({ level: 'silent' });
// DBTRAIL_TEST_STATE_URL (a postgres:// URL) runs the same process on a shared PostgreSQL database instead.
const stateUrl = process.env['DBTRAIL_TEST_STATE_URL'];
const store =
  stateUrl === undefined
    ? await openSqliteStateStore({ path: process.env['DBTRAIL_TEST_STATE']!, clock })
    : await openStateStore(stateUrl, clock);
const service = new AgentService({
  jobs: store.jobs,
  catalog: store.catalog,
  servers: store.servers,
  tenants: store.tenants,
  decryptPassword: () => '',
  clock,
  logger,
});
const scheduler = new Scheduler({
  schedules: store.schedules,
  jobs: store.jobs,
  catalog: store.catalog,
  servers: store.servers,
  expireLeases: () => service.expireLeases(),
  clock,
  logger,
});
let stopping = false;
process.on('SIGTERM', () => (stopping = true));
const tickMs = Number(process.env['DBTRAIL_TEST_TICK_MS'] ?? '20');
let ticks = 0;
while (!stopping) {
  const result = await scheduler.tick();
  ticks++;
  const count = (kind: string) => result.slots.filter((s) => s.outcome.kind === kind).length;
  process.stdout.write(
    `${JSON.stringify({ ticks, at: result.at.toISOString(), enqueued: count('enqueued'), taken: count('taken'), errors: result.slots.filter((s) => s.outcome.kind === 'error').map((s) => s.outcome) })}\n`,
  );
  await new Promise((r) => setTimeout(r, tickMs));
}
await store.close();
