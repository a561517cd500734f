import { binlogArchiveContract } from './binlog-archive.contract.js';
import { postgresBackend } from './backends.js';

binlogArchiveContract(postgresBackend());
