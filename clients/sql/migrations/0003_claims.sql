-- Which jobs this project owns (DECISIONS D14). A run resumes a `processing` row only when
-- this table says this project claimed it; a row without an entry was left by another worker
-- (the Go worker) and waits for `quel adopt`. Written in the transaction that claims the row.
CREATE TABLE IF NOT EXISTS quel_temporal_claims (
  job_id          uuid PRIMARY KEY,
  workflow_id     text NOT NULL,  -- the one workflow that runs the job; another id is refused
  run_id          text,           -- its run that last claimed the row (NULL: adopted, not started yet)
  claimed_at      timestamptz NOT NULL DEFAULT now(),
  adopted         boolean NOT NULL DEFAULT false,
  kept_attach_ids jsonb NOT NULL DEFAULT '[]'::jsonb  -- adopted: the other worker's images, kept as produced
);
