import { runMain } from '@cim/service';
import { graphService } from './service.js';

await runMain(graphService);
