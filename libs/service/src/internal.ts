// For sibling libraries and tests that check the runtime's internals against each other.
export { AggregateLoader } from './aggregate-loader.js';
export type { AggregateState } from './aggregate-loader.js';
export { CommandHandler, resultOf } from './command-handler.js';
