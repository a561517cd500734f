import type { CommandEntry, CommandSpec } from '../command.js';

/**
 * The command table: each command's words and summary, and how to load it. A command's module (and everything it
 * imports: drivers, the AWS SDK, SQLite) is loaded only when that command runs, so `dbtrail binlog decode` does not
 * pay for `dbtrail server`. Each command lives in its own file under this folder; add it here in the order it should
 * appear in `dbtrail --help`. A test checks that every entry matches the module it loads.
 */
function entry(path: readonly string[], summary: string, load: () => Promise<CommandSpec>): CommandEntry {
  return { path, summary, load };
}

export const COMMANDS: readonly CommandEntry[] = [
  entry(
    ['demo'],
    'Run the whole product against a sandbox MariaDB with sample data (no database needed); Ctrl-C stops it',
    async () => (await import('./demo.js')).demoCommand,
  ),
  entry(
    ['server'],
    'Run the control plane: REST API, dashboard, scheduler and an embedded agent',
    async () => (await import('./server.js')).serverCommand,
  ),
  entry(
    ['agent'],
    'Run an agent that takes backup jobs and capture streams from a dbtrail server over HTTP',
    async () => (await import('./agent.js')).agentCommand,
  ),
  entry(
    ['tenant', 'create'],
    'Create a tenant and print its id',
    async () => (await import('./tenant-create.js')).tenantCreateCommand,
  ),
  entry(
    ['apikey', 'create'],
    'Create an API key for a tenant and print it once',
    async () => (await import('./apikey-create.js')).apikeyCreateCommand,
  ),
  entry(
    ['apikey', 'list'],
    "List a tenant's API keys (prefixes only)",
    async () => (await import('./apikey-list.js')).apikeyListCommand,
  ),
  entry(
    ['apikey', 'revoke'],
    'Revoke an API key by its id, a unique start of its id, or its prefix (bt_live_...)',
    async () => (await import('./apikey-revoke.js')).apikeyRevokeCommand,
  ),
  entry(
    ['doctor'],
    'Check whether a MySQL/MariaDB server is ready for dbtrail (binlog settings, GTIDs, retention, privileges)',
    async () => (await import('./doctor.js')).doctorCommand,
  ),
  entry(
    ['dump'],
    'Take a consistent backup of a server into a new local directory, with binlog coordinates and a manifest',
    async () => (await import('./dump.js')).dumpCommand,
  ),
  entry(
    ['upload'],
    'Upload a local backup directory to the object store, manifest last; a rerun uploads only what is missing',
    async () => (await import('./upload.js')).uploadCommand,
  ),
  entry(
    ['backup', 'run'],
    'Dump a server, upload the backup to the object store and record it in the catalog (one step)',
    async () => (await import('./backup-run.js')).backupRunCommand,
  ),
  entry(
    ['backup', 'list'],
    'List the backups of the configured tenant, newest first',
    async () => (await import('./backup-list.js')).backupListCommand,
  ),
  entry(
    ['backup', 'verify'],
    'Re-read every object of a backup and check it against the signed manifest; exits 9 on a bad signature, 1 on bad files',
    async () => (await import('./backup-verify.js')).backupVerifyCommand,
  ),
  entry(
    ['backup', 'fetch'],
    'Download a backup into a new directory, verifying (and decrypting) every file, ready for myloader or mariadb-backup',
    async () => (await import('./backup-fetch.js')).backupFetchCommand,
  ),
  entry(
    ['key', 'show'],
    'Print the public key that signs backup manifests (created on first use) and the trusted keys',
    async () => (await import('./key-show.js')).keyShowCommand,
  ),
  entry(
    ['key', 'trust'],
    "Trust another home's manifest signing public key (as printed by its dbtrail key show)",
    async () => (await import('./key-trust.js')).keyTrustCommand,
  ),
  entry(
    ['audit', 'verify'],
    'Check the hash chain of the audit log: finds edited, deleted and reordered entries; exits 9 if any',
    async () => (await import('./audit-verify.js')).auditVerifyCommand,
  ),
  entry(
    ['audit', 'list'],
    'List the audit log entries of the configured tenant, oldest first',
    async () => (await import('./audit-list.js')).auditListCommand,
  ),
  entry(
    ['report'],
    'Write the compliance report of a server over a period: backups and verifications, drills, drift, gaps, recoverable window',
    async () => (await import('./report.js')).reportCommand,
  ),
  entry(
    ['generate-key'],
    'Create an age key pair for backup encryption: the identity goes to a 0600 file, the public key is printed',
    async () => (await import('./generate-key.js')).generateKeyCommand,
  ),
  entry(
    ['decrypt'],
    'Decrypt one age-encrypted backup file; the output appears only if the whole file authenticated',
    async () => (await import('./decrypt.js')).decryptCommand,
  ),
  entry(
    ['binlog', 'decode'],
    'Decode binlog files into one JSON object per event (or text), verifying checksums',
    async () => (await import('./binlog-decode.js')).binlogDecodeCommand,
  ),
  entry(
    ['binlog', 'tail'],
    'Stream binlog events from a server as a replica, in the same NDJSON (or text) as binlog decode',
    async () => (await import('./binlog-tail.js')).binlogTailCommand,
  ),
  entry(
    ['binlog', 'archive', 'list'],
    'List the archived binlog segments of a server and the archive gaps',
    async () => (await import('./binlog-archive.js')).binlogArchiveListCommand,
  ),
  entry(
    ['binlog', 'archive', 'fetch'],
    'Download and verify the archived binlog segments covering a range, ready for mariadb-binlog',
    async () => (await import('./binlog-archive.js')).binlogArchiveFetchCommand,
  ),
  entry(
    ['stream'],
    'Capture every row change and DDL of a server from its binlog into the change index, exactly once, until stopped',
    async () => (await import('./stream.js')).streamCommand,
  ),
  entry(
    ['index'],
    'Index binlog files from disk into the change index, continuing from the checkpoint, exactly once',
    async () => (await import('./index-files.js')).indexFilesCommand,
  ),
  entry(
    ['query'],
    'Search the captured row changes of a server',
    async () => (await import('./query.js')).queryCommand,
  ),
  entry(
    ['recover'],
    'Undo captured changes exactly (or replay them forward) as SQL: a script, a plan, or applied in one transaction',
    async () => (await import('./recover.js')).recoverCommand,
  ),
  entry(
    ['status'],
    'Show per server: checkpoint, lag, changes, gaps, covered and recoverable windows, binlog retention, dump warnings',
    async () => (await import('./status.js')).statusCommand,
  ),
  entry(
    ['prune'],
    'Delete captured changes older than a duration, recording the pruned history as a gap',
    async () => (await import('./prune.js')).pruneCommand,
  ),
  entry(
    ['restore'],
    'Restore a server to a point in time: load the newest covering backup into a target and replay captured changes up to the target',
    async () => (await import('./restore.js')).restoreCommand,
  ),
  entry(
    ['drill'],
    'Prove a restore works: restore the latest backup plus changes into a scratch server, compare per-table checksums with the source, record the result and RTO',
    async () => (await import('./drill.js')).drillCommand,
  ),
  entry(
    ['drift'],
    'Find changes that did not come through the binlog: compare the live server (or a backup) with the last dump plus captured changes, row by row',
    async () => (await import('./drift.js')).driftCommand,
  ),
  entry(
    ['migrate-state'],
    'Copy all state (catalog, change index, control plane, audit log) from SQLite to PostgreSQL in one verified transaction',
    async () => (await import('./migrate-state.js')).migrateStateCommand,
  ),
  entry(
    ['config', 'show'],
    'Print the effective configuration (defaults < config file < environment < flags), secrets redacted',
    async () => (await import('./config-show.js')).configShowCommand,
  ),
];
