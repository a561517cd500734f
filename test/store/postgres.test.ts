import { catalogContract } from './catalog.contract.js';
import { postgresBackend } from './backends.js';

catalogContract(postgresBackend());
