import { serverCoverage, type ServerCoverage } from '../../compliance/coverage.js';
import type { Clock } from '../../lib/clock.js';
import { MAX_LIST_LIMIT, type BackupCatalog } from '../../store/catalog.js';
import type { ServerFactsRepository } from '../../store/server-facts.js';
import type { BinlogCoordinates, ChangeIndex } from '../../store/change-index.js';
import type { ServerRepository } from '../../store/servers.js';
import { coveredWindows } from '../../store/windows.js';
import { principalOf } from '../context.js';
import { json } from '../response.js';
import { route, type Route } from '../router.js';
import { storeCall } from '../routes/common.js';
import { object, string } from '../schema.js';

/**
 * `GET /api/v1/servers/{server_id}/coverage`: what the recoverability timeline draws besides the dumps. The
 * continuous windows over which captured changes are complete, the recorded gaps, and the binlog retention
 * horizon (how far back the server itself still holds binlogs, from its `binlog_expire_logs_seconds` as the
 * agents last reported it).
 *
 * Times are ISO-8601 UTC with the index's full microsecond precision (`2024-05-01T10:15:00.123456Z`); a gap end
 * is null when unknown (unbounded). Public surface: add fields, never rename or remove them.
 */
export interface CoverageJson {
  readonly server_id: string;
  /** Commit time of the first and the newest captured transaction; null before any capture. */
  readonly captured_from: string | null;
  readonly captured_to: string | null;
  readonly windows: readonly { readonly from: string; readonly to: string }[];
  readonly gaps: readonly GapJson[];
  /** The server's binlog retention in seconds (0 = never purged); null when unknown. */
  readonly binlog_retention_seconds: number | null;
  /** now - binlog_retention_seconds: binlogs older than this may be gone from the server; null when unknown or 0. */
  readonly binlog_retention_horizon: string | null;
  /**
   * Present when the route has the catalog (src/compliance/coverage.ts): the windows a restore can reach (a good
   * dump at the start, gap-free changes to the end), the newest good dump, and the dump warnings.
   */
  readonly recoverable_windows?: readonly {
    readonly from: string;
    readonly to: string;
    readonly backup_id: string;
  }[];
  readonly newest_dump_at?: string | null;
  readonly good_dumps?: number;
  readonly warnings?: readonly { readonly code: string; readonly message: string }[];
}

export interface GapJson {
  readonly id: string;
  readonly from: string | null;
  readonly to: string | null;
  readonly reason: string;
  readonly detail: string;
  readonly from_coordinates: CoordinatesJson;
  readonly to_coordinates: CoordinatesJson;
  readonly recorded_at: string;
}

interface CoordinatesJson {
  readonly file: string;
  readonly position: number;
  readonly gtid: string | null;
}

export interface CoverageRouteDeps {
  readonly store: {
    readonly servers: Pick<ServerRepository, 'get'>;
    readonly changes: Pick<ChangeIndex, 'coverage'>;
    /** With these two, the answer adds recoverable windows and dump warnings, and the stored retention. */
    readonly catalog?: Pick<BackupCatalog, 'list'>;
    readonly serverFacts?: Pick<ServerFactsRepository, 'get'>;
  };
  readonly clock: Clock;
  /**
   * The server's binlog retention in seconds as last reported by an agent (0 = never purged); null or undefined
   * when unknown. Without it the horizon is not drawn.
   */
  readonly binlogRetentionSeconds?: (serverId: string) => number | null | undefined;
}

const params = object({ server_id: string({ format: 'uuid' }) });

export function coverageRoutes(deps: CoverageRouteDeps): Route[] {
  return [
    route({
      method: 'GET',
      path: '/api/v1/servers/{server_id}/coverage',
      operationId: 'getServerCoverage',
      summary: 'Captured change coverage of a server: covered windows, gaps, binlog retention horizon',
      tags: ['servers'],
      params,
      responses: {
        200: { description: 'The coverage (`CoverageJson`)' },
        404: { description: 'No such server in this tenant' },
      },
      async handle({ params: p }, ctx) {
        const { tenantId } = principalOf(ctx);
        // Another tenant's server is "not found", exactly like one that does not exist.
        const server = await storeCall(`server ${p.server_id}`, () =>
          deps.store.servers.get(p.server_id, { tenantId }),
        );
        const coverage = await deps.store.changes.coverage(p.server_id);
        const { catalog, serverFacts } = deps.store;
        const reported = deps.binlogRetentionSeconds?.(p.server_id);
        const retention =
          reported ??
          (serverFacts === undefined
            ? null
            : ((await serverFacts.get(p.server_id))?.binlogRetentionSeconds ?? null));
        const extra =
          catalog === undefined
            ? {}
            : compliance(
                serverCoverage({
                  now: deps.clock.now(),
                  windows: coveredWindows(coverage),
                  backups: await catalog.list({
                    tenantId,
                    serverName: server.name,
                    status: 'succeeded',
                    limit: MAX_LIST_LIMIT,
                  }),
                  binlogRetentionSeconds: retention,
                }),
              );
        const now = deps.clock.now().getTime();
        const body: CoverageJson = {
          server_id: p.server_id,
          captured_from: isoMicros(coverage.startUs),
          captured_to: isoMicros(coverage.endUs),
          windows: coveredWindows(coverage).map((w) => ({
            from: isoMicros(w.fromUs)!,
            to: isoMicros(w.toUs)!,
          })),
          gaps: coverage.gaps.map((g) => ({
            id: g.gap.id,
            from: isoMicros(g.fromUs),
            to: isoMicros(g.toUs),
            reason: g.gap.reason,
            detail: g.gap.detail,
            from_coordinates: coordinatesJson(g.gap.from),
            to_coordinates: coordinatesJson(g.gap.to),
            recorded_at: g.gap.recordedAt.toISOString(),
          })),
          binlog_retention_seconds: retention,
          binlog_retention_horizon:
            retention === null || retention <= 0 ? null : new Date(now - retention * 1000).toISOString(),
          ...extra,
        };
        return json(body);
      },
    }),
  ];
}

function compliance(c: ServerCoverage): Partial<CoverageJson> {
  return {
    recoverable_windows: c.recoverableWindows.map((w) => ({
      from: isoMicros(w.fromUs)!,
      to: isoMicros(w.toUs)!,
      backup_id: w.backupId,
    })),
    newest_dump_at: c.newestDumpAt?.toISOString() ?? null,
    good_dumps: c.goodDumps,
    warnings: c.warnings,
  };
}

function coordinatesJson(c: BinlogCoordinates): CoordinatesJson {
  return { file: c.file, position: c.position, gtid: c.gtidSet };
}

/**
 * Microseconds since the epoch as ISO-8601 UTC with six fractional digits, computed on bigints so that no
 * microsecond is lost to a JS number; null stays null.
 */
export function isoMicros(us: bigint | null): string | null {
  if (us === null) return null;
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  const micros = us - ms * 1000n;
  const base = new Date(Number(ms)).toISOString(); // 2024-05-01T10:15:00.123Z
  return `${base.slice(0, -1)}${micros.toString().padStart(3, '0')}Z`;
}
