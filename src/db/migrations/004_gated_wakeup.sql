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
-- the safe side. SECURITY DEFINER, so a producer's role needs no privilege
-- on this table; search_path is pinned to the one the table was created in.
CREATE UNLOGGED TABLE IF NOT EXISTS orchestrator_wakeup (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  armed boolean NOT NULL DEFAULT true,
  changed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO orchestrator_wakeup DEFAULT VALUES ON CONFLICT DO NOTHING;

-- Replacing the function takes no lock on outbox: producers keep inserting.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF coalesce((SELECT armed FROM orchestrator_wakeup), true) THEN
    PERFORM pg_notify('order_events', NEW.id::text);
  END IF;
  RETURN NEW;
END
$$;
