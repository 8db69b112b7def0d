"""Pure rules of the job domain: parsing, planning, credits, outcomes, prompts. No I/O here."""
