"""Thin, well-named clients over the outside world: PostgreSQL, Redis, object storage,
image generators. Activities call these; nothing here knows about Temporal."""
