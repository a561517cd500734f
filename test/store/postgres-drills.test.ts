import { drillsContract } from './drills.contract.js';
import { postgresBackend } from './backends.js';

drillsContract(postgresBackend());
