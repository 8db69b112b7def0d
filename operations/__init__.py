"""What can be done to a job (status, cancel, enqueue, start), shared by every way in: `quel`, `api/` and `bridge/`."""
