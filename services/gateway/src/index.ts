export { startGateway } from './gateway.js';
export type {
  CallInfo,
  Gateway,
  GatewayLog,
  GatewayOptions,
} from './gateway.js';
export { domainFiles, domainServices } from './domains.js';
