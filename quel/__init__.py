"""Process entry points (`quel` CLI), settings and the embedded dev stack."""
