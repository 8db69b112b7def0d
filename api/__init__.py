"""The HTTP API, a way into the system beside `bridge/` (Redis) and the `quel` command."""
