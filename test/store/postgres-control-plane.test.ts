import { controlPlaneContract } from './control-plane.contract.js';
import { postgresBackend } from './backends.js';

controlPlaneContract(postgresBackend());
