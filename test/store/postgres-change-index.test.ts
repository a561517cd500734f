import { changeIndexContract } from './change-index.contract.js';
import { postgresBackend } from './backends.js';

changeIndexContract(postgresBackend());
