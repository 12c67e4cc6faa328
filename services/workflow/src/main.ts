import { runMain } from '@cim/service';
import { workflowService } from './service.js';

await runMain(workflowService);
