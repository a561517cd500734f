import { sqliteBackend } from './backends.js';
import { drillsContract } from './drills.contract.js';

drillsContract(sqliteBackend('drills-store'));
