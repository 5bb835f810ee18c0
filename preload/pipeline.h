/* pipeline: the export side of the shim's pipelines, as core/telemetry.h
 * asks for it (struct telemetry_exports). Core builds every signal's
 * pipeline the same way (batch processors for spans and log records, the
 * periodic reader for metrics) and knows no exporter; this layer decides
 * where their batches go: each signal's exporters (OTEL_*_EXPORTER), the
 * hand-off to a parent's relay (exporters/handoff.h), the spool
 * (exporters/outbox.h), and the export-duration histogram of every export
 * (otel.sdk.exporter.operation.duration).
 *
 * The shim installs it in its constructor, before telemetry_init; tests
 * that link otelp_core get it installed by a constructor of its own
 * (OTELP_PIPELINE_AUTO_INSTALL); otelp_sdk alone exports nothing.
 * Depends on core/telemetry.h and exporters/. */
#ifndef OTELP_PRELOAD_PIPELINE_H
#define OTELP_PRELOAD_PIPELINE_H

void pipeline_install(void);

#endif
