import { runMain } from '@cim/service';
import { conceptualspacesService } from './service.js';

await runMain(conceptualspacesService);
