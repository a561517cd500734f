import type { CommandSpec } from '../command.js';
import { backupListCommand } from './backup-list.js';
import { binlogDecodeCommand } from './binlog-decode.js';
import { binlogTailCommand } from './binlog-tail.js';
import { configShowCommand } from './config-show.js';
import { demoCommand } from './demo.js';
import { doctorCommand } from './doctor.js';

/**
 * The command table. Each command lives in its own file under this folder; add it here, in the order it should
 * appear in `dbtrail --help`.
 */
export const COMMANDS: readonly CommandSpec[] = [
  demoCommand,
  doctorCommand,
  backupListCommand,
  binlogDecodeCommand,
  binlogTailCommand,
  configShowCommand,
];
