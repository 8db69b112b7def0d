-- In-paint jobs prepaid by `POST /api/modify/submit` (DECISIONS D12): who paid how much for how many
-- images, and the refund once the job has ended. A job without a row here (the Go endpoint's) is
-- never refunded; `refunded_at` set makes a repeated refund a no-op.
CREATE TABLE IF NOT EXISTS quel_temporal_prepaid_jobs (
  job_id            uuid PRIMARY KEY,
  production_id     uuid NOT NULL,
  payer_kind        text NOT NULL CHECK (payer_kind IN ('organization', 'member')),
  account_id        uuid NOT NULL,
  member_id         uuid NOT NULL,
  images            integer NOT NULL CHECK (images > 0),
  price             integer NOT NULL CHECK (price >= 0),
  deduct_credits_id uuid NOT NULL,
  refunded_images   integer,
  refund_credits_id uuid,
  refunded_at       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now()
);
