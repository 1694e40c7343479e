export type { AuditPublisher, AuditRecord } from "./audit.ts";
export {
  AUDIT_SECRET_KEY,
  createAuditPublisher,
  createFastAuditPublisher,
  redactAuditData,
  uuidv7,
} from "./audit.ts";
export type {
  BusConfig,
  ConnectBusOptions,
  PublishOptions,
  RequestContext,
  RequestOptions,
  ServeOptions,
  Server,
  SubscribeOptions,
} from "./bus.ts";
export {
  busError,
  connectBus,
  decodeMessage,
  ERROR_HEADER,
  encodeMessage,
  headers,
  publishCore,
  publishEvent,
  request,
  serve,
  subscribe,
} from "./bus.ts";
export type { Env, LoadConfigOptions } from "./config.ts";
export {
  env,
  healthEnvSchema,
  loadConfig,
  natsEnvSchema,
  observabilityEnvSchema,
} from "./config.ts";
export type { ErrorCode, UplineErrorOptions, WireError } from "./errors.ts";
export { ErrorCodes, isErrorCode, isUplineError, RetryClass, UplineError } from "./errors.ts";
export type {
  JsPublishCallback,
  JsPublisher,
  JsPublisherOptions,
  JsPublishOptions,
} from "./js-publisher.ts";
export { createJsPublisher, readPubAck } from "./js-publisher.ts";
export type { CreateLoggerOptions, Logger } from "./log.ts";
export { createLogger, REDACT_PATHS, scrubSecrets } from "./log.ts";
export type { Runtime, ServiceBaseConfig } from "./runtime.ts";
export { runMain, serviceEnvSchema, startRuntime } from "./runtime.ts";
export {
  AuditEvent,
  AuditOutcome,
  CancelReply,
  CancelRequest,
  ControlState,
  Decimal,
  EpochMs,
  FeedHealth,
  IsoTime,
  MarketCode,
  MarketEvent,
  Orderbook,
  OrderbookUnit,
  OrderErrorBody,
  OrderEvent,
  OrderEventType,
  OrderIntent,
  OrderRef,
  OrderReply,
  OrderStatus,
  OrdType,
  Side,
  SignedDecimal,
  SignerSessionReply,
  SignGrant,
  SignReply,
  SignRequest,
  Ticker,
  TimeInForce,
  Trade,
  TradingState,
} from "./schemas.ts";
export type { HealthChecks, HealthServer, Stoppable } from "./service.ts";
export { startHealthServer, stopOnSignals } from "./service.ts";
export type { EnsureResult, StreamLimits } from "./streams.ts";
export { defaultStreamLimits, desiredStreams, ensureStreams, streamEnvSchema } from "./streams.ts";
export type { Subjects } from "./subjects.ts";
export { createSubjects, isMarketCode, MdChannel, ServiceName } from "./subjects.ts";
export type { ReadableSpan, SpanExporter, Telemetry, TelemetryOptions } from "./telemetry.ts";
export { InMemorySpanExporter, startTelemetry } from "./telemetry.ts";
export {
  contextFromTraceparent,
  extractTraceContext,
  injectTraceContext,
  traceparentOf,
} from "./trace-context.ts";
