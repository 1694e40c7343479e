/**
 * OpenTelemetry start-up. One call per process; it never throws: a failure to
 * start degrades to no telemetry with a warning, because telemetry must never
 * take a trading service down.
 */
import { context, metrics, propagation, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { type IMetricReader, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { NodeSDK } from "@opentelemetry/sdk-node";
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  NoopSpanProcessor,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";
import type { Logger } from "./log.ts";

export type { ReadableSpan, SpanExporter };
export { InMemorySpanExporter };

/** An unreachable collector must not hold up a service's shutdown for long. */
const EXPORT_TIMEOUT_MS = 2_000;

export interface TelemetryOptions {
  readonly service: string;
  /** OTLP/HTTP base URL (OTEL_EXPORTER_OTLP_ENDPOINT); without it nothing is exported. */
  readonly endpoint?: string | undefined;
  /** Export spans here synchronously instead (tests: an InMemorySpanExporter). */
  readonly spanExporter?: SpanExporter;
  /** Extra metric reader (tests); the OTLP one is added when an endpoint is set. */
  readonly metricReader?: IMetricReader;
  readonly logger?: Logger;
}

export interface Telemetry {
  /** Flushes and stops exporting. Safe to call twice; never rejects. */
  readonly shutdown: () => Promise<void>;
}

/**
 * Starts tracing (and metrics when exported) with W3C trace-context propagation.
 * Spans always get real ids, so trace ids reach logs and NATS headers even when
 * nothing is exported.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  try {
    const spanProcessors: SpanProcessor[] = [];
    if (options.spanExporter)
      spanProcessors.push(new SimpleSpanProcessor({ exporter: options.spanExporter }));
    if (options.endpoint) {
      spanProcessors.push(
        new BatchSpanProcessor({
          exporter: new OTLPTraceExporter({
            url: `${trimSlash(options.endpoint)}/v1/traces`,
            timeoutMillis: EXPORT_TIMEOUT_MS,
          }),
        }),
      );
    }
    if (spanProcessors.length === 0) spanProcessors.push(new NoopSpanProcessor());

    const metricReaders: IMetricReader[] = [];
    if (options.metricReader) metricReaders.push(options.metricReader);
    if (options.endpoint) {
      metricReaders.push(
        new PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({
            url: `${trimSlash(options.endpoint)}/v1/metrics`,
            timeoutMillis: EXPORT_TIMEOUT_MS,
          }),
          exportIntervalMillis: 10_000,
        }),
      );
    }

    const sdk = new NodeSDK({
      resource: resourceFromAttributes({ "service.name": options.service }),
      autoDetectResources: false,
      spanProcessors,
      metricReaders,
      logRecordProcessors: [],
      instrumentations: [],
      textMapPropagator: new W3CTraceContextPropagator(),
    });
    sdk.start();
    let stopping: Promise<void> | undefined;
    return {
      shutdown: () => {
        stopping ??= sdk
          .shutdown()
          .catch((err: unknown) => options.logger?.warn({ err }, "telemetry shutdown failed"))
          .finally(() => {
            trace.disable();
            metrics.disable();
            propagation.disable();
            context.disable();
          });
        return stopping;
      },
    };
  } catch (err) {
    options.logger?.warn({ err }, "telemetry could not start; continuing without it");
    return { shutdown: async () => undefined };
  }
}

function trimSlash(url: string): string {
  return url.endsWith("/") ? url.slice(0, -1) : url;
}
