import { checkMigrationList, type Migration } from '../migration.js';

/**
 * The PostgreSQL schema, as versioned migrations with the same versions and names as the SQLite ones
 * (src/store/sqlite/migrations.ts), so that `migrate-state` can move a database between them and both agree on
 * what version N means.
 *
 * Conventions:
 * - ids are `uuid` (dbtrail makes them; the type sorts byte by byte, as the SQLite text ids do);
 * - record times are `timestamptz`; microsecond times of the change index are `bigint`, exactly as in SQLite,
 *   so both backends hold the same integers;
 * - JSON documents (server defaults, job payloads, row images) are `text`, not `jsonb`: jsonb reorders keys and
 *   rejects `\u0000`, and the index must give back exactly what it was given;
 * - names that listings sort by are `COLLATE "C"`: byte order, like SQLite, whatever the database's locale.
 *
 * Released migrations are never edited: add a new one.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE tenants (
  id         uuid PRIMARY KEY,
  name       text COLLATE "C" NOT NULL UNIQUE,
  created_at timestamptz NOT NULL
);

CREATE TABLE servers (
  id                  uuid PRIMARY KEY,
  tenant_id           uuid NOT NULL REFERENCES tenants (id),
  name                text COLLATE "C" NOT NULL,
  host                text NOT NULL,
  port                integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  username            text NOT NULL,
  -- Encrypted by the caller before it reaches the store; never the clear password.
  password_ciphertext bytea,
  defaults            text NOT NULL DEFAULT '{}',
  created_at          timestamptz NOT NULL,
  updated_at          timestamptz NOT NULL,
  CONSTRAINT servers_tenant_name UNIQUE (tenant_id, name)
);

CREATE TABLE backups (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  server_id        uuid REFERENCES servers (id) ON DELETE SET NULL,
  server_name      text COLLATE "C" NOT NULL,
  tool             text NOT NULL CHECK (tool IN ('mydumper', 'mariadb-backup', 'xtrabackup')),
  tool_version     text,
  status           text NOT NULL CHECK (status IN ('queued', 'running', 'uploading', 'succeeded', 'failed')),
  created_at       timestamptz NOT NULL,
  started_at       timestamptz,
  dump_finished_at timestamptz,
  finished_at      timestamptz,
  duration_ms      bigint CHECK (duration_ms >= 0),
  size_bytes       bigint CHECK (size_bytes >= 0),
  binlog_file      text,
  binlog_position  bigint CHECK (binlog_position >= 0),
  gtid_set         text,
  location         text,
  local_dir        text,
  error_code       text,
  error_message    text,
  updated_at       timestamptz NOT NULL,
  CHECK ((binlog_file IS NULL) = (binlog_position IS NULL)),
  CHECK (status <> 'succeeded' OR (binlog_file IS NOT NULL AND location IS NOT NULL)),
  CHECK (status <> 'failed' OR error_message IS NOT NULL)
);
CREATE INDEX backups_by_tenant ON backups (tenant_id, created_at, id);
CREATE INDEX backups_by_server_name ON backups (tenant_id, server_name, created_at, id);
CREATE INDEX backups_by_status ON backups (tenant_id, status, created_at, id);
CREATE INDEX backups_by_server_id ON backups (server_id, created_at, id) WHERE server_id IS NOT NULL;
`,
  },
  {
    version: 2,
    name: 'control_plane',
    sql: `
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY,
  tenant_id    uuid NOT NULL REFERENCES tenants (id),
  name         text,
  prefix       text COLLATE "C" NOT NULL,
  -- Lower-case hex SHA-256 of the whole key. The key itself is shown once and never stored.
  key_hash     text NOT NULL CONSTRAINT api_keys_key_hash UNIQUE,
  created_at   timestamptz NOT NULL,
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE schedules (
  id             uuid PRIMARY KEY,
  tenant_id      uuid NOT NULL REFERENCES tenants (id),
  server_id      uuid NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  cron           text NOT NULL,
  timezone       text NOT NULL DEFAULT 'UTC',
  tool           text NOT NULL CHECK (tool IN ('mydumper', 'xtrabackup')),
  retention_days integer NOT NULL DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 365),
  object_prefix  text NOT NULL,
  enabled        boolean NOT NULL DEFAULT true,
  next_run_at    timestamptz,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled;
CREATE INDEX schedules_by_tenant ON schedules (tenant_id, created_at);
CREATE INDEX schedules_by_server ON schedules (server_id);

CREATE TABLE jobs (
  id               uuid PRIMARY KEY,
  tenant_id        uuid NOT NULL REFERENCES tenants (id),
  kind             text NOT NULL CHECK (kind IN ('backup', 'upload', 'drill', 'drift', 'capture', 'retention')),
  status           text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  server_id        uuid REFERENCES servers (id) ON DELETE CASCADE,
  schedule_id      uuid REFERENCES schedules (id) ON DELETE SET NULL,
  backup_id        uuid REFERENCES backups (id) ON DELETE SET NULL,
  scheduled_for    timestamptz,
  payload          text NOT NULL DEFAULT '{}',
  run_after        timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  lease_owner      text,
  lease_expires_at timestamptz,
  heartbeat_at     timestamptz,
  created_at       timestamptz NOT NULL,
  started_at       timestamptz,
  finished_at      timestamptz,
  error_code       text,
  error_message    text,
  CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);
CREATE UNIQUE INDEX jobs_schedule_slot ON jobs (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL;
CREATE INDEX jobs_claimable ON jobs (status, kind, run_after) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_by_tenant ON jobs (tenant_id, created_at, id);
CREATE INDEX jobs_by_server ON jobs (server_id, created_at) WHERE server_id IS NOT NULL;
CREATE INDEX jobs_by_backup ON jobs (backup_id) WHERE backup_id IS NOT NULL;

ALTER TABLE backups ADD COLUMN schedule_id uuid REFERENCES schedules (id) ON DELETE SET NULL;
CREATE INDEX backups_by_schedule ON backups (schedule_id, created_at, id) WHERE schedule_id IS NOT NULL;
`,
  },
  {
    version: 3,
    name: 'change_index',
    sql: `
-- The change index, with the tables and keys of the SQLite one (see there for the role of each column).
-- Keys are identities "BY DEFAULT", so that migrate-state can copy them unchanged.
CREATE TABLE change_servers (
  server_key           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  server_id            uuid NOT NULL UNIQUE REFERENCES servers (id),
  last_seq             bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  row_changes          bigint NOT NULL DEFAULT 0 CHECK (row_changes >= 0),
  transactions         bigint NOT NULL DEFAULT 0 CHECK (transactions >= 0),
  ddl_events           bigint NOT NULL DEFAULT 0 CHECK (ddl_events >= 0),
  first_commit_time_us bigint,
  created_at           timestamptz NOT NULL
);

CREATE TABLE change_checkpoints (
  server_key          bigint PRIMARY KEY REFERENCES change_servers (server_key),
  binlog_file         text NOT NULL,
  binlog_position     bigint NOT NULL CHECK (binlog_position >= 0),
  gtid_set            text,
  source_server_uuid  text,
  source_server_id    text NOT NULL,
  source_hostname     text NOT NULL,
  source_flavor       text NOT NULL CHECK (source_flavor IN ('mysql', 'mariadb')),
  last_commit_time_us bigint,
  updated_at          timestamptz NOT NULL
);

CREATE TABLE change_tables (
  table_key   bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  server_key  bigint NOT NULL REFERENCES change_servers (server_key),
  schema_name text NOT NULL,
  table_name  text NOT NULL,
  UNIQUE (server_key, schema_name, table_name)
);

-- The three big tables are partitioned by (server, commit time): one partition per server and calendar month
-- (UTC), created on demand and listed in change_partitions. Pruning drops a server's partitions that lie wholly
-- before the cutoff instead of deleting their rows one by one; every lookup names the server, so a query reads
-- the partitions of its server (and time range) only. Keys of partitioned tables must contain the partition
-- key, hence commit_time_us in each primary key; seqs are unique per server by construction (change_servers
-- .last_seq is advanced under the row lock of the commit).
CREATE TABLE change_transactions (
  server_key      bigint NOT NULL,
  first_seq       bigint NOT NULL,
  last_seq        bigint NOT NULL,
  gtid            text,
  binlog_file     text NOT NULL,
  binlog_position bigint NOT NULL,
  end_position    bigint NOT NULL,
  commit_time_us  bigint NOT NULL,
  thread_id       bigint,
  PRIMARY KEY (server_key, first_seq, commit_time_us),
  CHECK (last_seq >= first_seq)
) PARTITION BY RANGE (server_key, commit_time_us);
CREATE INDEX change_transactions_by_gtid ON change_transactions (server_key, gtid) WHERE gtid IS NOT NULL;

CREATE TABLE changes (
  server_key       bigint NOT NULL,
  seq              bigint NOT NULL,
  table_key        bigint NOT NULL,
  tx_seq           bigint NOT NULL,
  change_type      text NOT NULL CHECK (change_type IN ('insert', 'update', 'delete')),
  commit_time_us   bigint NOT NULL,
  pk_hash          bigint NOT NULL,
  pk               text NOT NULL,
  pk_columns       text NOT NULL,
  pk_is_full_image boolean NOT NULL,
  before_image     text,
  after_image      text,
  changed_columns  text,
  PRIMARY KEY (server_key, seq, commit_time_us)
) PARTITION BY RANGE (server_key, commit_time_us);
CREATE INDEX changes_by_time ON changes (server_key, commit_time_us, seq);
CREATE INDEX changes_by_table_time ON changes (table_key, commit_time_us, seq);
CREATE INDEX changes_by_pk ON changes (table_key, pk_hash);

CREATE TABLE change_columns (
  server_key     bigint NOT NULL,
  table_key      bigint NOT NULL,
  column_name    text NOT NULL,
  commit_time_us bigint NOT NULL,
  seq            bigint NOT NULL,
  PRIMARY KEY (server_key, table_key, column_name, commit_time_us, seq)
) PARTITION BY RANGE (server_key, commit_time_us);

-- The partitions that exist, per server: from_us inclusive, to_us exclusive.
CREATE TABLE change_partitions (
  server_key bigint NOT NULL REFERENCES change_servers (server_key),
  from_us    bigint NOT NULL,
  to_us      bigint NOT NULL,
  suffix     text NOT NULL UNIQUE,
  PRIMARY KEY (server_key, from_us),
  CHECK (to_us > from_us)
);

CREATE TABLE change_ddl (
  server_key      bigint NOT NULL REFERENCES change_servers (server_key),
  seq             bigint NOT NULL,
  gtid            text,
  binlog_file     text NOT NULL,
  binlog_position bigint NOT NULL,
  commit_time_us  bigint NOT NULL,
  thread_id       bigint,
  schema_name     text,
  statement       text NOT NULL,
  PRIMARY KEY (server_key, seq)
);

-- gap_no orders gaps as recorded (SQLite orders by rowid).
CREATE TABLE change_gaps (
  id                 uuid PRIMARY KEY,
  gap_no             bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
  server_key         bigint NOT NULL REFERENCES change_servers (server_key),
  reason             text NOT NULL CHECK (reason IN ('binlog_purged', 'pruned', 'accepted_restart', 'other')),
  detail             text NOT NULL,
  from_file          text NOT NULL,
  from_position      bigint NOT NULL CHECK (from_position >= 0),
  from_gtid_set      text,
  to_file            text NOT NULL,
  to_position        bigint NOT NULL CHECK (to_position >= 0),
  to_gtid_set        text,
  from_time_us       bigint,
  to_time_us         bigint,
  after_seq          bigint NOT NULL,
  checkpoint_time_us bigint,
  recorded_at        timestamptz NOT NULL
);
CREATE INDEX change_gaps_by_server ON change_gaps (server_key, gap_no);

-- entry_no breaks ties between entries of the same position, newest wins (SQLite: rowid).
CREATE TABLE change_table_schemas (
  entry_no            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  server_key          bigint NOT NULL REFERENCES change_servers (server_key),
  schema_name         text NOT NULL,
  table_name          text NOT NULL,
  valid_from_file     text NOT NULL,
  valid_from_file_no  bigint NOT NULL,
  valid_from_position bigint NOT NULL CHECK (valid_from_position >= 0),
  valid_from_gtid_set text,
  valid_from_seq      bigint NOT NULL,
  columns             text NOT NULL,
  primary_key         text NOT NULL,
  recorded_at         timestamptz NOT NULL
);
CREATE INDEX change_table_schemas_by_seq
  ON change_table_schemas (server_key, schema_name, table_name, valid_from_seq, entry_no);
CREATE INDEX change_table_schemas_by_position
  ON change_table_schemas (server_key, schema_name, table_name, valid_from_file_no, valid_from_position, entry_no);
`,
  },
  {
    version: 4,
    name: 'active_jobs_and_history_indexes',
    sql: `
CREATE INDEX jobs_active ON jobs (server_id, kind, created_at, id) WHERE status IN ('queued', 'running');
CREATE INDEX backups_by_server_status ON backups (server_id, status, created_at, id) WHERE server_id IS NOT NULL;
`,
  },
  {
    version: 5,
    name: 'change_pk_key_index',
    sql: `
-- As in SQLite: short pk texts (32 bytes or less) are indexed by their own text, which keeps the inserts of
-- nearby keys on nearby index pages; longer ones by pk_hash. Lookups use the same expression and confirm with pk.
DROP INDEX changes_by_pk;
CREATE INDEX changes_by_pk_key
  ON changes (table_key, (CASE WHEN octet_length(pk) <= 32 THEN pk ELSE pk_hash::text END) COLLATE "C");
`,
  },
  {
    version: 6,
    name: 'binlog_archive',
    sql: `
-- The raw binlog archive (see the SQLite migration of the same name).
CREATE TABLE binlog_segments (
  id              uuid PRIMARY KEY,
  server_id       uuid NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  binlog_file     text COLLATE "C" NOT NULL,
  file_seq        bigint NOT NULL,
  start_position  bigint NOT NULL CHECK (start_position >= 4),
  end_position    bigint NOT NULL CHECK (end_position >= start_position),
  ends_file       boolean NOT NULL,
  start_gtid_set  text,
  end_gtid_set    text,
  first_gtid      text,
  last_gtid       text,
  first_commit_us bigint,
  last_commit_us  bigint,
  transactions    bigint NOT NULL CHECK (transactions >= 0),
  bytes           bigint NOT NULL CHECK (bytes >= 4),
  sha256          text NOT NULL,
  object_key      text NOT NULL,
  created_at      timestamptz NOT NULL,
  UNIQUE (server_id, binlog_file, start_position)
);
CREATE INDEX binlog_segments_by_coordinates ON binlog_segments (server_id, file_seq, binlog_file, start_position);

-- gap_no orders gaps recorded in the same millisecond as they were recorded.
CREATE TABLE binlog_archive_gaps (
  id            uuid PRIMARY KEY,
  gap_no        bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
  server_id     uuid NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  from_file     text NOT NULL,
  from_position bigint NOT NULL CHECK (from_position >= 0),
  from_gtid_set text,
  to_file       text NOT NULL,
  to_position   bigint NOT NULL CHECK (to_position >= 0),
  to_gtid_set   text,
  reason        text NOT NULL,
  detail        text NOT NULL,
  recorded_at   timestamptz NOT NULL
);
CREATE INDEX binlog_archive_gaps_by_server ON binlog_archive_gaps (server_id, recorded_at);
`,
  },
  {
    version: 7,
    name: 'agents',
    sql: `
-- scope is the tenant id of a remote agent and '' for an embedded one (agent ids are unique per tenant only).
CREATE TABLE agents (
  scope         text COLLATE "C" NOT NULL,
  id            text COLLATE "C" NOT NULL,
  labels        text NOT NULL,
  hostname      text,
  version       text,
  registered_at timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  PRIMARY KEY (scope, id)
);
CREATE INDEX agents_by_last_seen ON agents (last_seen_at);
`,
  },
  {
    version: 8,
    name: 'audit_log_and_server_facts',
    sql: `
-- The hash-chained audit log (src/store/audit-log.ts). "at" is the ISO-8601 text that was hashed, kept as text
-- so that it reads back byte for byte; details is canonical JSON text. No foreign keys: the log outlives what
-- it names.
CREATE TABLE audit_log (
  seq        bigint PRIMARY KEY CHECK (seq >= 1),
  at         text COLLATE "C" NOT NULL,
  tenant_id  uuid,
  actor_kind text NOT NULL,
  actor_id   text NOT NULL,
  action     text NOT NULL,
  target     text,
  outcome    text NOT NULL,
  details    text NOT NULL,
  prev_hash  text NOT NULL,
  hash       text NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);

CREATE TABLE server_facts (
  server_id                uuid PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
  binlog_retention_seconds bigint CHECK (binlog_retention_seconds >= 0),
  flavor                   text NOT NULL CHECK (flavor IN ('mysql', 'mariadb')),
  version                  text NOT NULL,
  reported_at              timestamptz NOT NULL
);
`,
  },
  {
    version: 9,
    name: 'drills',
    sql: `
-- Restore drills (src/store/drills.ts). steps, tables and coordinates are JSON text; drill_no breaks ties of
-- drills that finished in the same millisecond (SQLite: rowid).
CREATE TABLE drills (
  id          uuid PRIMARY KEY,
  drill_no    bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
  tenant_id   uuid NOT NULL REFERENCES tenants (id),
  server_id   uuid NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  backup_id   text,
  status      text NOT NULL CHECK (status IN ('passed', 'failed')),
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  rto_ms      bigint CHECK (rto_ms >= 0),
  coordinates text,
  steps       text NOT NULL,
  tables      text NOT NULL,
  error       text
);
CREATE INDEX drills_by_server ON drills (server_id, finished_at);
`,
  },
];

checkMigrationList(POSTGRES_MIGRATIONS);
