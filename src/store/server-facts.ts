/**
 * What dbtrail last learned about a tracked server from the server itself (an agent's or a command's probe):
 * kept so that `dbtrail status`, the dashboard and reports can state the binlog retention horizon without
 * connecting to the server. One row per server, replaced by each report.
 */
export interface ServerFactsRecord {
  readonly serverId: string;
  /** `binlog_expire_logs_seconds` (or `expire_logs_days` in seconds); 0 = never purged; null = unknown. */
  readonly binlogRetentionSeconds: number | null;
  readonly flavor: 'mysql' | 'mariadb';
  readonly version: string;
  readonly reportedAt: Date;
}

export interface NewServerFacts {
  readonly binlogRetentionSeconds: number | null;
  readonly flavor: 'mysql' | 'mariadb';
  readonly version: string;
}

export interface ServerFactsRepository {
  /** Replaces the server's facts; throws NotFoundError for an unknown server. */
  record(serverId: string, facts: NewServerFacts): Promise<ServerFactsRecord>;
  /** The last facts recorded, or undefined. */
  get(serverId: string): Promise<ServerFactsRecord | undefined>;
}
