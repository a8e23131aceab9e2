-- The outbox trigger notifies only while an orchestrator is idle and waiting.
--
-- Every transaction that calls pg_notify serialises its commit on one
-- server-wide lock (the notification queue's), so a per-row NOTIFY cut the
-- producer's own insert rate to a fraction, whether or not anyone listened.
-- Now an orchestrator arms this flag when a claim cycle leaves it with
-- nothing to do (and then checks once more for events, so an insert that
-- raced the arming is not missed), and disarms it at the start of every
-- cycle: while it is busy, producers insert without notifying, and its own
-- loop (or the poll) finds their events. The channel and payload (the event
-- id) are unchanged for anyone else listening; they too only hear of events
-- while an orchestrator waits.
--
-- Unlogged: the flag needs no WAL, and is not worth keeping across a crash.
-- After one the table is empty, which the trigger reads as armed (notify):
-- the safe side. Anyone may read it (a producer's role runs the trigger);
-- the function names it with its schema rather than being SECURITY DEFINER
-- with a pinned search_path, which costs every insert a settings switch.
CREATE UNLOGGED TABLE IF NOT EXISTS orchestrator_wakeup (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  armed boolean NOT NULL DEFAULT true,
  changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO orchestrator_wakeup DEFAULT VALUES ON CONFLICT DO NOTHING;
GRANT SELECT ON orchestrator_wakeup TO PUBLIC;

-- Replacing the function takes no lock on outbox: producers keep inserting.
DO $migration$
BEGIN
  EXECUTE format($fn$
    CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $body$
    BEGIN
      IF coalesce((SELECT armed FROM %I.orchestrator_wakeup), true) THEN
        PERFORM pg_notify('order_events', NEW.id::text);
      END IF;
      RETURN NEW;
    END
    $body$
  $fn$, current_schema());
END
$migration$;
