/**
 * Restore drills: a restore of a server's latest backup plus captured changes into a scratch server, verified by
 * per-table checksums against the source at the same coordinates. The catalog keeps every drill's result and RTO,
 * newest first, so "when did a restore last provably work, and how long did it take" has an answer.
 */
export type DrillStatus = 'passed' | 'failed';

export interface DrillTableResult {
  /** `schema.table` on the source. */
  readonly table: string;
  readonly sourceRows: string;
  readonly scratchRows: string;
  readonly sourceChecksum: string;
  readonly scratchChecksum: string;
  readonly match: boolean;
}

export interface DrillStep {
  readonly step: string;
  readonly ms: number;
}

export interface DrillRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly serverId: string;
  readonly backupId: string | null;
  readonly status: DrillStatus;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  /** Restore time objective measured: fetch + load + replay, in milliseconds; null when the restore failed. */
  readonly rtoMs: number | null;
  /** The source coordinates the scratch server was restored to and compared at. */
  readonly coordinates: {
    readonly file: string;
    readonly position: number;
    readonly gtid: string | null;
  } | null;
  readonly steps: readonly DrillStep[];
  readonly tables: readonly DrillTableResult[];
  /** Why it failed, in one line; null when it passed. */
  readonly error: string | null;
}

export type NewDrill = Omit<DrillRecord, 'id'>;

export interface DrillRepository {
  /** Records a finished drill; throws NotFoundError when the server is not the tenant's. */
  record(drill: NewDrill): Promise<DrillRecord>;
  /** A server's drills, newest first (at most `limit`, default 20). */
  list(tenantId: string, serverId: string, limit?: number): Promise<readonly DrillRecord[]>;
}
