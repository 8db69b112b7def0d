"""Every side effect of a job, as retryable, idempotent Temporal activities over `clients/`."""
