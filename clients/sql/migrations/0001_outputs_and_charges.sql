-- The port's own bookkeeping, beside (never inside) the legacy tables.

-- One row per output identity (job, stage, combination, index): the attach row it produced.
-- Its primary key is what makes a retried or replayed "record" a no-op (DECISIONS D6).
CREATE TABLE IF NOT EXISTS quel_temporal_outputs (
  output_key text PRIMARY KEY,
  job_id     uuid NOT NULL,
  stage      integer NOT NULL,
  combo      integer NOT NULL,
  image      integer NOT NULL,
  attach_id  bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, stage, combo, image)
);

-- One row per charged output: the idempotency key of the charge (DECISIONS D3). The legacy
-- ledger has no such constraint and may already hold duplicates, so the key lives here.
CREATE TABLE IF NOT EXISTS quel_temporal_charges (
  idempotency_key text PRIMARY KEY,
  job_id          uuid NOT NULL,
  attach_id       bigint NOT NULL,
  credits_id      uuid NOT NULL,
  amount          integer NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS quel_temporal_charges_job_idx ON quel_temporal_charges (job_id);
