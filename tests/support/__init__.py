"""Helpers shared by the integration tests: seeding legacy rows, running workers."""
