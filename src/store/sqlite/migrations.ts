import { checkMigrationList, type Migration } from '../migration.js';

/**
 * The SQLite schema, as versioned migrations (the PostgreSQL backend keeps the same versions and names).
 *
 * Conventions, chosen so that the PostgreSQL schema can mirror this one column for column:
 * - ids are UUID text made by dbtrail; no rowid or AUTOINCREMENT semantics are relied on;
 * - times are UTC ISO-8601 text with milliseconds (`2024-05-01T10:15:00.000Z`): fixed width, so text order is
 *   time order and range scans use the indexes (PostgreSQL: `timestamptz`);
 * - booleans are 0/1 integers with a CHECK (PostgreSQL: `boolean`); JSON is text (PostgreSQL: `jsonb`);
 * - no column is named after a keyword of either dialect (`username`, not `user`);
 * - STRICT tables, so a value of the wrong type is an error rather than silently stored.
 *
 * Released migrations are never edited: add a new one.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE tenants (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE servers (
  id                  TEXT PRIMARY KEY,
  tenant_id           TEXT NOT NULL REFERENCES tenants (id),
  name                TEXT NOT NULL,
  host                TEXT NOT NULL,
  port                INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
  username            TEXT NOT NULL,
  -- Encrypted by the caller before it reaches the store; never the clear password.
  password_ciphertext BLOB,
  defaults            TEXT NOT NULL DEFAULT '{}',
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE backups (
  id               TEXT PRIMARY KEY,
  tenant_id        TEXT NOT NULL REFERENCES tenants (id),
  -- History outlives a server's registration: the name at backup time stays.
  server_id        TEXT REFERENCES servers (id) ON DELETE SET NULL,
  server_name      TEXT NOT NULL,
  tool             TEXT NOT NULL CHECK (tool IN ('mydumper', 'mariadb-backup', 'xtrabackup')),
  tool_version     TEXT,
  status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'uploading', 'succeeded', 'failed')),
  created_at       TEXT NOT NULL,
  started_at       TEXT,
  dump_finished_at TEXT,
  finished_at      TEXT,
  duration_ms      INTEGER CHECK (duration_ms >= 0),
  size_bytes       INTEGER CHECK (size_bytes >= 0),
  binlog_file      TEXT,
  binlog_position  INTEGER CHECK (binlog_position >= 0),
  gtid_set         TEXT,
  location         TEXT,
  local_dir        TEXT,
  error_code       TEXT,
  error_message    TEXT,
  updated_at       TEXT NOT NULL,
  CHECK ((binlog_file IS NULL) = (binlog_position IS NULL)),
  CHECK (status <> 'succeeded' OR (binlog_file IS NOT NULL AND location IS NOT NULL)),
  CHECK (status <> 'failed' OR error_message IS NOT NULL)
) STRICT;

-- Listings are newest first within a tenant, optionally narrowed by server or status: each index ends in the
-- sort key so a page of 100 reads 100 index entries, however long the history.
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
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants (id),
  name         TEXT,
  -- The first characters of the key (e.g. "bt_live_3f2a"), so a person can tell keys apart.
  prefix       TEXT NOT NULL,
  -- Lower-case hex SHA-256 of the whole key. The key itself is shown once and never stored.
  key_hash     TEXT NOT NULL UNIQUE,
  created_at   TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at   TEXT
) STRICT;
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

CREATE TABLE schedules (
  id             TEXT PRIMARY KEY,
  tenant_id      TEXT NOT NULL REFERENCES tenants (id),
  server_id      TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  cron           TEXT NOT NULL,
  timezone       TEXT NOT NULL DEFAULT 'UTC',
  tool           TEXT NOT NULL CHECK (tool IN ('mydumper', 'xtrabackup')),
  retention_days INTEGER NOT NULL DEFAULT 30 CHECK (retention_days BETWEEN 1 AND 365),
  object_prefix  TEXT NOT NULL,
  enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  -- The next slot to fire; advanced by compare-and-set so that one of several schedulers wins each slot.
  next_run_at    TEXT,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
) STRICT;
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled = 1;
CREATE INDEX schedules_by_tenant ON schedules (tenant_id, created_at);
CREATE INDEX schedules_by_server ON schedules (server_id);

-- Units of work claimed by agents. A claim sets lease_owner and lease_expires_at; the holder renews the lease
-- with each heartbeat, and a job whose lease expired is failed (or re-queued) by whoever notices.
CREATE TABLE jobs (
  id               TEXT PRIMARY KEY,
  tenant_id        TEXT NOT NULL REFERENCES tenants (id),
  kind             TEXT NOT NULL CHECK (kind IN ('backup', 'upload', 'drill', 'drift', 'capture', 'retention')),
  status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  server_id        TEXT REFERENCES servers (id) ON DELETE CASCADE,
  schedule_id      TEXT REFERENCES schedules (id) ON DELETE SET NULL,
  backup_id        TEXT REFERENCES backups (id) ON DELETE SET NULL,
  -- The schedule slot this job runs for: unique per schedule, so a slot runs once even with several schedulers.
  scheduled_for    TEXT,
  payload          TEXT NOT NULL DEFAULT '{}',
  run_after        TEXT NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  lease_owner      TEXT,
  lease_expires_at TEXT,
  heartbeat_at     TEXT,
  created_at       TEXT NOT NULL,
  started_at       TEXT,
  finished_at      TEXT,
  error_code       TEXT,
  error_message    TEXT,
  CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
) STRICT;
CREATE UNIQUE INDEX jobs_schedule_slot ON jobs (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL;
CREATE INDEX jobs_claimable ON jobs (status, kind, run_after) WHERE status = 'queued';
CREATE INDEX jobs_leased ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_by_tenant ON jobs (tenant_id, created_at, id);
CREATE INDEX jobs_by_server ON jobs (server_id, created_at) WHERE server_id IS NOT NULL;
CREATE INDEX jobs_by_backup ON jobs (backup_id) WHERE backup_id IS NOT NULL;

ALTER TABLE backups ADD COLUMN schedule_id TEXT REFERENCES schedules (id) ON DELETE SET NULL;
CREATE INDEX backups_by_schedule ON backups (schedule_id, created_at, id) WHERE schedule_id IS NOT NULL;
`,
  },
  {
    version: 3,
    name: 'change_index',
    sql: `
-- The change index. Its tables refer to a server by a small integer key instead of the 36-character UUID, which
-- would otherwise be repeated in every change row and every index entry. Sequence numbers and microsecond
-- times are 64-bit integers, read as bigints.
CREATE TABLE change_servers (
  server_key           INTEGER PRIMARY KEY,
  server_id            TEXT NOT NULL UNIQUE REFERENCES servers (id),
  -- The highest seq assigned (row changes and DDL share one sequence); never lowered, not even by pruning.
  last_seq             INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  -- What the index holds now (pruning lowers them): answers status without counting millions of rows.
  row_changes          INTEGER NOT NULL DEFAULT 0 CHECK (row_changes >= 0),
  transactions         INTEGER NOT NULL DEFAULT 0 CHECK (transactions >= 0),
  ddl_events           INTEGER NOT NULL DEFAULT 0 CHECK (ddl_events >= 0),
  -- Commit time of the first transaction ever committed for the server: where its coverage begins.
  first_commit_time_us INTEGER,
  created_at           TEXT NOT NULL
) STRICT;

-- One row per server: the coordinates up to which its changes are in the index, written in the same transaction
-- as those changes.
CREATE TABLE change_checkpoints (
  server_key          INTEGER PRIMARY KEY REFERENCES change_servers (server_key),
  binlog_file         TEXT NOT NULL,
  binlog_position     INTEGER NOT NULL CHECK (binlog_position >= 0),
  gtid_set            TEXT,
  source_server_uuid  TEXT,
  source_server_id    TEXT NOT NULL,
  source_hostname     TEXT NOT NULL,
  source_flavor       TEXT NOT NULL CHECK (source_flavor IN ('mysql', 'mariadb')),
  -- Commit time of the newest transaction the checkpoint covers: the end of coverage, and what lag is measured from.
  last_commit_time_us INTEGER,
  updated_at          TEXT NOT NULL
) STRICT;

-- (schema, table) names once per server; changes refer to them by key.
CREATE TABLE change_tables (
  table_key   INTEGER PRIMARY KEY,
  server_key  INTEGER NOT NULL REFERENCES change_servers (server_key),
  schema_name TEXT NOT NULL,
  table_name  TEXT NOT NULL,
  UNIQUE (server_key, schema_name, table_name)
) STRICT;

-- One row per source transaction that has row changes: its GTID and coordinates once, not on every row.
-- first_seq..last_seq are the seqs of its row changes.
CREATE TABLE change_transactions (
  server_key      INTEGER NOT NULL,
  first_seq       INTEGER NOT NULL,
  last_seq        INTEGER NOT NULL,
  gtid            TEXT,
  binlog_file     TEXT NOT NULL,
  binlog_position INTEGER NOT NULL,
  end_position    INTEGER NOT NULL,
  commit_time_us  INTEGER NOT NULL,
  thread_id       INTEGER,
  PRIMARY KEY (server_key, first_seq),
  CHECK (last_seq >= first_seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX change_transactions_by_gtid ON change_transactions (server_key, gtid) WHERE gtid IS NOT NULL;

-- Row changes. No foreign keys here: they would cost a lookup per row on the hot insert path, and every commit
-- writes the checkpoint row (which has them) in the same transaction. Images and column lists are compact JSON
-- text in the canonical value encoding. pk_hash is the first 8 bytes of SHA-256 of the pk text, as a signed
-- integer; lookups confirm with the pk text.
CREATE TABLE changes (
  server_key       INTEGER NOT NULL,
  seq              INTEGER NOT NULL,
  table_key        INTEGER NOT NULL,
  -- first_seq of its transaction in change_transactions.
  tx_seq           INTEGER NOT NULL,
  change_type      TEXT NOT NULL CHECK (change_type IN ('insert', 'update', 'delete')),
  commit_time_us   INTEGER NOT NULL,
  pk_hash          INTEGER NOT NULL,
  pk               TEXT NOT NULL,
  pk_columns       TEXT NOT NULL,
  pk_is_full_image INTEGER NOT NULL CHECK (pk_is_full_image IN (0, 1)),
  before_image     TEXT,
  after_image      TEXT,
  changed_columns  TEXT
) STRICT;
CREATE UNIQUE INDEX changes_by_seq ON changes (server_key, seq);
-- Queries return changes in commit order (commit time, then seq): both time indexes end in that sort key, so a
-- page reads only its own rows, however large the index.
CREATE INDEX changes_by_time ON changes (server_key, commit_time_us, seq);
CREATE INDEX changes_by_table_time ON changes (table_key, commit_time_us, seq);
CREATE INDEX changes_by_pk ON changes (table_key, pk_hash);

-- The changed columns of updates, for --changed-column lookups: keyed in commit order within a table and column,
-- so the newest (or oldest) updates of a column are read first without sorting.
CREATE TABLE change_columns (
  table_key      INTEGER NOT NULL,
  column_name    TEXT NOT NULL,
  commit_time_us INTEGER NOT NULL,
  seq            INTEGER NOT NULL,
  PRIMARY KEY (table_key, column_name, commit_time_us, seq)
) STRICT, WITHOUT ROWID;

-- DDL events; they take seqs from the same sequence as row changes.
CREATE TABLE change_ddl (
  server_key      INTEGER NOT NULL REFERENCES change_servers (server_key),
  seq             INTEGER NOT NULL,
  gtid            TEXT,
  binlog_file     TEXT NOT NULL,
  binlog_position INTEGER NOT NULL,
  commit_time_us  INTEGER NOT NULL,
  thread_id       INTEGER,
  schema_name     TEXT,
  statement       TEXT NOT NULL,
  PRIMARY KEY (server_key, seq)
) STRICT;

-- Ranges of history known to be missing. Never deleted.
CREATE TABLE change_gaps (
  id                 TEXT PRIMARY KEY,
  server_key         INTEGER NOT NULL REFERENCES change_servers (server_key),
  reason             TEXT NOT NULL CHECK (reason IN ('binlog_purged', 'pruned', 'accepted_restart', 'other')),
  detail             TEXT NOT NULL,
  from_file          TEXT NOT NULL,
  from_position      INTEGER NOT NULL CHECK (from_position >= 0),
  from_gtid_set      TEXT,
  to_file            TEXT NOT NULL,
  to_position        INTEGER NOT NULL CHECK (to_position >= 0),
  to_gtid_set        TEXT,
  from_time_us       INTEGER,
  to_time_us         INTEGER,
  -- The last seq assigned before the gap, and the checkpoint's last commit time then: where it sits in history.
  after_seq          INTEGER NOT NULL,
  checkpoint_time_us INTEGER,
  recorded_at        TEXT NOT NULL
) STRICT;
CREATE INDEX change_gaps_by_server ON change_gaps (server_key);

-- Table definitions over time, for binlogs without full row metadata.
CREATE TABLE change_table_schemas (
  server_key          INTEGER NOT NULL REFERENCES change_servers (server_key),
  schema_name         TEXT NOT NULL,
  table_name          TEXT NOT NULL,
  valid_from_file     TEXT NOT NULL,
  -- The binlog file's numeric suffix: file names stop sorting as text once the suffix grows a digit.
  valid_from_file_no  INTEGER NOT NULL,
  valid_from_position INTEGER NOT NULL CHECK (valid_from_position >= 0),
  valid_from_gtid_set TEXT,
  valid_from_seq      INTEGER NOT NULL,
  columns             TEXT NOT NULL,
  primary_key         TEXT NOT NULL,
  recorded_at         TEXT NOT NULL
) STRICT;
CREATE INDEX change_table_schemas_by_seq
  ON change_table_schemas (server_key, schema_name, table_name, valid_from_seq);
CREATE INDEX change_table_schemas_by_position
  ON change_table_schemas (server_key, schema_name, table_name, valid_from_file_no, valid_from_position);
`,
  },
  {
    version: 4,
    name: 'active_jobs_and_history_indexes',
    sql: `
-- The active (queued or running) job of a kind for a server: answers "is a backup already running?" for every
-- POST /backup and scheduled slot, and the exclusive enqueue's check, without walking the server's whole job
-- history. Small: it holds only active jobs.
CREATE INDEX jobs_active ON jobs (server_id, kind, created_at, id) WHERE status IN ('queued', 'running');

-- A server's history narrowed by status (GET /api/v1/backups?server_id=&status=, a schedule's health): newest
-- first from the index, instead of walking all of the server's backups or all of the tenant's of that status.
CREATE INDEX backups_by_server_status ON backups (server_id, status, created_at, id) WHERE server_id IS NOT NULL;
`,
  },
  {
    version: 5,
    name: 'change_pk_key_index',
    sql: `
-- changes_by_pk keyed changes by a hash of the pk text: every insert landed on a random leaf of an index spanning
-- the whole history, so each commit rewrote most of that index to the WAL (half the write cost of capture at 1M
-- row changes, more as the index grows). Short keys (32 bytes of UTF-8 or less: integers, composite integers,
-- short codes) are now indexed by their text, which keeps the inserts of nearby keys (auto-increment ids, recent
-- rows) on nearby pages; longer keys (UUIDs, full-image keys of tables without a primary key) keep pk_hash, as
-- before. pk_hash is still written for every change. Lookups use the same expression and confirm with pk.
DROP INDEX changes_by_pk;
CREATE INDEX changes_by_pk_key
  ON changes (table_key, CASE WHEN octet_length(pk) <= 32 THEN pk ELSE pk_hash END);
`,
  },
  {
    version: 6,
    name: 'binlog_archive',
    sql: `
-- The raw binlog archive: segments of a server's binlog stored as objects, in coordinate order (file_seq is the
-- number after the file name's last dot, so binlog.1000000 sorts after binlog.999999). Commit times are
-- microseconds, read as bigints.
CREATE TABLE binlog_segments (
  id              TEXT PRIMARY KEY,
  server_id       TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  binlog_file     TEXT NOT NULL,
  file_seq        INTEGER NOT NULL,
  start_position  INTEGER NOT NULL CHECK (start_position >= 4),
  end_position    INTEGER NOT NULL CHECK (end_position >= start_position),
  ends_file       INTEGER NOT NULL CHECK (ends_file IN (0, 1)),
  start_gtid_set  TEXT,
  end_gtid_set    TEXT,
  first_gtid      TEXT,
  last_gtid       TEXT,
  first_commit_us INTEGER,
  last_commit_us  INTEGER,
  transactions    INTEGER NOT NULL CHECK (transactions >= 0),
  bytes           INTEGER NOT NULL CHECK (bytes >= 4),
  sha256          TEXT NOT NULL,
  object_key      TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  UNIQUE (server_id, binlog_file, start_position)
) STRICT;
CREATE INDEX binlog_segments_by_coordinates ON binlog_segments (server_id, file_seq, binlog_file, start_position);

-- Ranges the archive can never cover (binlogs purged while capture was down...). Never deleted.
CREATE TABLE binlog_archive_gaps (
  id            TEXT PRIMARY KEY,
  server_id     TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  from_file     TEXT NOT NULL,
  from_position INTEGER NOT NULL CHECK (from_position >= 0),
  from_gtid_set TEXT,
  to_file       TEXT NOT NULL,
  to_position   INTEGER NOT NULL CHECK (to_position >= 0),
  to_gtid_set   TEXT,
  reason        TEXT NOT NULL,
  detail        TEXT NOT NULL,
  recorded_at   TEXT NOT NULL
) STRICT;
CREATE INDEX binlog_archive_gaps_by_server ON binlog_archive_gaps (server_id, recorded_at);
`,
  },
  {
    version: 7,
    name: 'agents',
    sql: `
-- Agents known to the control plane (src/store/agents.ts). scope is the tenant id of a remote agent and '' for an
-- embedded one: agent ids are chosen by agents, so they are unique per tenant only. labels is a JSON array.
CREATE TABLE agents (
  scope         TEXT NOT NULL,
  id            TEXT NOT NULL,
  labels        TEXT NOT NULL,
  hostname      TEXT,
  version       TEXT,
  registered_at TEXT NOT NULL,
  last_seen_at  TEXT NOT NULL,
  PRIMARY KEY (scope, id)
) STRICT;
CREATE INDEX agents_by_last_seen ON agents (last_seen_at);
`,
  },
  {
    version: 8,
    name: 'audit_log_and_server_facts',
    sql: `
-- The hash-chained audit log (src/store/audit-log.ts). seq is the chain position: the primary key, so two
-- writers can never both append at the same position. details is canonical JSON text. No foreign keys: the log
-- outlives what it names, and is never updated or deleted by dbtrail.
CREATE TABLE audit_log (
  seq        INTEGER PRIMARY KEY CHECK (seq >= 1),
  at         TEXT NOT NULL,
  tenant_id  TEXT,
  actor_kind TEXT NOT NULL,
  actor_id   TEXT NOT NULL,
  action     TEXT NOT NULL,
  target     TEXT,
  outcome    TEXT NOT NULL,
  details    TEXT NOT NULL,
  prev_hash  TEXT NOT NULL,
  hash       TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);

-- What dbtrail last learned about a server from the server itself (src/store/server-facts.ts).
CREATE TABLE server_facts (
  server_id                TEXT PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
  binlog_retention_seconds INTEGER CHECK (binlog_retention_seconds >= 0),
  flavor                   TEXT NOT NULL CHECK (flavor IN ('mysql', 'mariadb')),
  version                  TEXT NOT NULL,
  reported_at              TEXT NOT NULL
) STRICT;
`,
  },
  {
    version: 9,
    name: 'drills',
    sql: `
-- Restore drills (src/store/drills.ts): result, RTO and per-table checksums of each drill, newest first per server.
-- steps, tables and coordinates are JSON text.
CREATE TABLE drills (
  id          TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants (id),
  server_id   TEXT NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
  backup_id   TEXT,
  status      TEXT NOT NULL CHECK (status IN ('passed', 'failed')),
  started_at  TEXT NOT NULL,
  finished_at TEXT NOT NULL,
  rto_ms      INTEGER CHECK (rto_ms >= 0),
  coordinates TEXT,
  steps       TEXT NOT NULL,
  tables      TEXT NOT NULL,
  error       TEXT
) STRICT;
CREATE INDEX drills_by_server ON drills (server_id, finished_at);
`,
  },
];

checkMigrationList(SQLITE_MIGRATIONS);
