export {
  aggregateIdOf,
  assertDomainName,
  checkpointSubject,
  commandSubject,
  eventSubject,
  eventWildcard,
  methodSubject,
  querySubject,
  queueGroup,
  serviceRoute,
  streamName,
} from '@cim/kernel';
export type { RequestKind } from '@cim/kernel';
export { Header } from './headers.js';
export { forEachHeader } from './received-headers.js';
export type { ReceivedMessage } from './received-headers.js';
export {
  UnavailableError,
  errorFromReply,
  errorLine,
  errorReply,
  errorReplyFor,
  isErrorReply,
} from './errors.js';
export type { ErrorReply } from './errors.js';
export { request } from './request.js';
export type { RequestOptions } from './request.js';
export { connectNats } from './connection.js';
export type { NatsOptions } from './connection.js';
export { RequestMux } from './request-mux.js';
export type { ReplyCallback } from './request-mux.js';
