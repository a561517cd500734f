import type { CommandSpec } from '../command.js';
import { agentCommand } from './agent.js';
import { apikeyCreateCommand } from './apikey-create.js';
import { apikeyListCommand } from './apikey-list.js';
import { apikeyRevokeCommand } from './apikey-revoke.js';
import { backupFetchCommand } from './backup-fetch.js';
import { backupListCommand } from './backup-list.js';
import { backupRunCommand } from './backup-run.js';
import { backupVerifyCommand } from './backup-verify.js';
import { binlogDecodeCommand } from './binlog-decode.js';
import { binlogTailCommand } from './binlog-tail.js';
import { configShowCommand } from './config-show.js';
import { decryptCommand } from './decrypt.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';
import { dumpCommand } from './dump.js';
import { generateKeyCommand } from './generate-key.js';
import { indexFilesCommand } from './index-files.js';
import { pruneCommand } from './prune.js';
import { queryCommand } from './query.js';
import { statusCommand } from './status.js';
import { serverCommand } from './server.js';
import { streamCommand } from './stream.js';
import { tenantCreateCommand } from './tenant-create.js';
import { uploadCommand } from './upload.js';

/**
 * The command table. Each command lives in its own file under this folder; add it here, in the order it should
 * appear in `dbtrail --help`.
 */
export const COMMANDS: readonly CommandSpec[] = [
  demoCommand,
  serverCommand,
  agentCommand,
  tenantCreateCommand,
  apikeyCreateCommand,
  apikeyListCommand,
  apikeyRevokeCommand,
  doctorCommand,
  dumpCommand,
  uploadCommand,
  backupRunCommand,
  backupListCommand,
  backupVerifyCommand,
  backupFetchCommand,
  generateKeyCommand,
  decryptCommand,
  binlogDecodeCommand,
  binlogTailCommand,
  streamCommand,
  indexFilesCommand,
  queryCommand,
  statusCommand,
  pruneCommand,
  configShowCommand,
];
