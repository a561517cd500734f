import { failoverSuite } from './failover-suite.js';

failoverSuite('sqlite');
