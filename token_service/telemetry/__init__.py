"""What the app tells operators: metrics (OpenTelemetry), their egress, and the per-request log line."""
