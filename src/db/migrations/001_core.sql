-- Core schema: the outbox contract, the saga ledger, step outcomes
-- and transition history. Never edit once released: add a new numbered file.

CREATE TABLE IF NOT EXISTS outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id uuid NOT NULL,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'PENDING',
  attempts int NOT NULL DEFAULT 0,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz
);
-- Producers may have created the table themselves from the contract: add ours.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS available_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE outbox ALTER COLUMN status SET DEFAULT 'PENDING';
ALTER TABLE outbox ALTER COLUMN attempts SET DEFAULT 0;
-- outbox_pending_idx is built by 003, concurrently. As first released, this
-- file built it here, inside its transaction, blocking a producer's inserts
-- for the whole build: the one edit made to this file since. Installations
-- from then have the index, and 003 is a no-op for them.

CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('order_events', NEW.id::text);
  RETURN NEW;
END
$$;
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify();

CREATE TABLE IF NOT EXISTS order_ledger (
  order_id uuid PRIMARY KEY,
  status text NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED', 'CANCELLED', 'NEEDS_ATTENTION')),
  state text NOT NULL,
  snapshot jsonb NOT NULL,
  machine_version text NOT NULL,
  -- The work the snapshot asks for: {"kind":"step",...} or {"kind":"timer",...}.
  pending jsonb,
  -- When the saga may next be claimed; while leased, equal to lease_until.
  run_at timestamptz NOT NULL DEFAULT now(),
  lease_owner text,
  lease_until timestamptz,
  -- Fencing token: bumped by every claim; every write names the epoch it holds.
  lease_epoch bigint NOT NULL DEFAULT 0,
  revision bigint NOT NULL DEFAULT 0,
  cancel_requested_at timestamptz,
  cancel_reason text,
  retry_requested_at timestamptz,
  last_error text,
  source_event_id bigint,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS order_ledger_runnable_idx ON order_ledger (run_at) WHERE status = 'RUNNING';
CREATE INDEX IF NOT EXISTS order_ledger_status_idx ON order_ledger (status, updated_at, order_id);
CREATE INDEX IF NOT EXISTS order_ledger_lease_idx ON order_ledger (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE IF NOT EXISTS saga_step (
  order_id uuid NOT NULL,
  step text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('ok', 'rejected')),
  http_status int,
  response jsonb,
  instance_id text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, step)
);

CREATE TABLE IF NOT EXISTS saga_history (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  order_id uuid NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  event text NOT NULL,
  from_state text,
  to_state text NOT NULL,
  instance_id text,
  detail jsonb
);
CREATE INDEX IF NOT EXISTS saga_history_order_idx ON saga_history (order_id, id);
