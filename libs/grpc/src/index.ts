export {
  serviceDefinition,
  methodPath,
  asBuffer,
} from './service-definition.js';
export type { ServiceDefinitionOptions } from './service-definition.js';
export { addService } from './server.js';
export type {
  AddServiceOptions,
  BiDiStreamingHandler,
  CallContext,
  ClientStreamingHandler,
  MethodHandler,
  ServerStreamingHandler,
  ServiceHandlers,
  UnaryHandler,
} from './server.js';
export { createClient, createRawClient } from './client.js';
export type {
  BiDiStreamingClientMethod,
  ClientCallOptions,
  ClientMethod,
  ClientOptions,
  ClientStreamingClientMethod,
  GrpcClient,
  RawGrpcClient,
  ServerStreamingClientMethod,
  UnaryClientMethod,
} from './client.js';
export {
  ERROR_CODE_METADATA_KEY,
  errorCodeOf,
  serverStatusFor,
  statusFor,
} from './status.js';
export type { GrpcStatus } from './status.js';
export { healthService, ServingStatus } from './health.js';
export type { HealthService } from './health.js';
export { addReflection } from './reflection.js';
