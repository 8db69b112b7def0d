"""Moves job ids from the legacy Redis list into Temporal workflow starts, losing none."""
