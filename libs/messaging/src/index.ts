export { silentLogger, describeError, type MessagingLogger } from './logger.js';
export {
  PayloadValidationError,
  schemaServiceValidator,
  schemaValidator,
  type AnySubjects,
  type CallShape,
  type KindOf,
  type PayloadProblem,
  type RequestOf,
  type ResponseOf,
  type SchemaLike,
  type ServiceMap,
  type ServiceValidator,
  type SubjectTypes,
  type Validator,
} from './contract-types.js';
export {
  BINARY_ENCODING,
  DecodeError,
  decodeMessage,
  encodeBinary,
  encodeFramed,
  FRAMED_ENCODING,
  encodeJson,
  ENCODING_HEADER,
  META_HEADER,
  type DecodedMessage,
  type EncodedMessage,
} from './codec.js';
export { exponentialDelay, Limiter, redeliveryDelay, sleep, type ExponentialDelayOptions } from './timing.js';
export {
  connectMessaging,
  natsAuthOptions,
  type MessagingConnectOptions,
  type MessagingConnection,
  type NatsCredentials,
} from './connection.js';
export {
  consumerConfigOf,
  DeclarationConflictError,
  diffConsumerConfig,
  diffStreamConfig,
  ensureConsumer,
  ensureStream,
  isStreamNotFound,
  streamConfigOf,
  type ConsumerSpec,
  type DeclareAction,
  type DeclareResult,
  type StreamSpec,
} from './declare.js';
export {
  isConnectionClosedError,
  isRetriablePublishError,
  isStreamFullError,
  Publisher,
  type PublisherOptions,
  type PublishOptions,
  type PublishResult,
} from './publisher.js';
export {
  PermanentFailure,
  runConsumer,
  type ConsumerRunner,
  type ConsumerRunnerOptions,
  type Delivery,
  type DeliveryHandler,
} from './consumer-runner.js';
export {
  serve,
  ServiceClient,
  ServiceError,
  ServiceErrorCode,
  ServiceServer,
  type LibraryErrorCode,
  type Responder,
  type ServeOptions,
  type ServiceClientOptions,
  type ServiceErrorBody,
  type ServiceHandler,
  type ServiceReply,
} from './service.js';
export * from './platform-topology.js';
export { connectorUserClaims, connectorUserName, outdatedClaims } from './connector-user.js';
export { NestVerbRefused, refusalCode, requestNestVerb } from './nest-request.js';
