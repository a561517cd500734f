import { auditLogContract } from './audit-log.contract.js';
import { postgresBackend } from './backends.js';

auditLogContract(postgresBackend());
