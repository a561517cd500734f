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
];

checkMigrationList(SQLITE_MIGRATIONS);
