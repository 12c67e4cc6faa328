import { ConfigError, runMain } from '@cim/service';
import { maxContentBytesFrom } from './config.js';
import { defineDocumentService } from './service.js';

let maxContentBytes: number;
try {
  maxContentBytes = maxContentBytesFrom(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`cim-document: ${error.message}\n`);
  process.exit(2);
}
await runMain(defineDocumentService({ maxContentBytes }));
