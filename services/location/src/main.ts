import { runMain } from '@cim/service';
import { locationService } from './service.js';

await runMain(locationService);
