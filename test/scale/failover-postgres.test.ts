import { failoverSuite } from './failover-suite.js';

failoverSuite('postgres');
