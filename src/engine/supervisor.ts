// Wires the pure supervisor machine (machines/supervisor.ts) to the world:
// the LISTEN connection, the poll ticker, claim cycles and the drain.
import {
  createActor,
  fromCallback,
  fromPromise,
  type InspectionEvent,
  type Observer,
} from "xstate";
import {
  type SupervisorEvent,
  supervisorMachine,
  type WakeSource,
} from "../../machines/supervisor.ts";
import type { CycleOutput } from "../../machines/supervisor.ts";
import { startListener } from "../db/listener.ts";
import type { Sql } from "../db/client.ts";
import type { Logger } from "../log.ts";

export interface SupervisorDeps {
  logger: Logger;
  /** Where LISTEN connects: LISTEN_DATABASE_URL, else the main database URL. */
  listenUrl: string;
  /** The main pool, through which the LISTEN probe is sent (as producers' NOTIFYs are). */
  sql: Sql;
  listen: boolean;
  pollIntervalMs: number;
  runCycle(): Promise<CycleOutput>;
  drain(): Promise<void>;
  onWake?(source: WakeSource): void;
  /** An XState inspection observer (e.g. the Stately inspector's `inspect`). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export function createSupervisor(deps: SupervisorDeps) {
  const log = deps.logger;
  let subscribedOnce = false;
  let lastProbeMs: number | undefined;

  const machine = supervisorMachine.provide({
    actors: {
      listener: fromCallback<SupervisorEvent>(({ sendBack }) => {
        if (!deps.listen) {
          sendBack({ type: "LISTEN_DOWN", error: "LISTEN is disabled (LISTEN=false)" });
          return () => {};
        }
        // A commit of many outbox rows delivers a burst of notifications in
        // one socket read: they become one WAKE, not one actor event each.
        let wakeQueued = false;
        const l = startListener(deps.listenUrl, {
          onNotify: () => {
            deps.onWake?.("notify");
            if (wakeQueued) return;
            wakeQueued = true;
            queueMicrotask(() => {
              wakeQueued = false;
              sendBack({ type: "WAKE", source: "notify" });
            });
          },
          onUp: ({ probeMs }) => {
            lastProbeMs = Math.round(probeMs * 10) / 10;
            if (subscribedOnce) deps.onWake?.("relisten");
            sendBack({ type: "LISTEN_UP" });
          },
          onDown: (error) => sendBack({ type: "LISTEN_DOWN", error }),
        }, { probeSql: deps.sql });
        return () => void l.stop();
      }),
      ticker: fromCallback<SupervisorEvent>(({ sendBack, receive }) => {
        log.info({ poll_interval_ms: deps.pollIntervalMs }, "Starting polling loop");
        const poll = setInterval(() => {
          deps.onWake?.("poll");
          sendBack({ type: "WAKE", source: "poll" });
        }, deps.pollIntervalMs);
        let timer: ReturnType<typeof setTimeout> | undefined;
        let timerAt = Number.POSITIVE_INFINITY;
        receive((event) => {
          if (event.type !== "SCHEDULE") return;
          const at = event.at;
          // Only deadlines before the next poll matter; keep the earliest.
          if (!Number.isFinite(at) || at >= timerAt) return;
          clearTimeout(timer);
          timerAt = at;
          timer = setTimeout(() => {
            timerAt = Number.POSITIVE_INFINITY;
            deps.onWake?.("timer");
            sendBack({ type: "WAKE", source: "timer" });
          }, Math.min(Math.max(0, at - Date.now()), deps.pollIntervalMs));
        });
        return () => {
          clearInterval(poll);
          clearTimeout(timer);
        };
      }),
      claimCycle: fromPromise(() => deps.runCycle()),
      drain: fromPromise(() => deps.drain()),
    },
    actions: {
      reportCycleError: (_, params) =>
        log.error({ err: String(params.error) }, "Claim cycle failed; the next wake-up retries"),
      reportListen: (_, params) => {
        if (params.up) {
          log.info(
            // probe_ms: a probe NOTIFY through the main pool came back this fast.
            { channel: "order_events", probe_ms: lastProbeMs },
            subscribedOnce
              ? "Re-subscribed to order_events channel"
              : "Subscribed to order_events channel",
          );
          subscribedOnce = true;
        } else {
          log.warn(
            { error: params.error, poll_interval_ms: deps.pollIntervalMs },
            `LISTEN unavailable: ${params.error}; polling every ${deps.pollIntervalMs} ms ` +
              "(POLL_INTERVAL_MS) and retrying LISTEN in the background",
          );
        }
      },
    },
  });

  const actor = createActor(machine, { inspect: deps.inspect });
  actor.subscribe({ error: (err) => log.error({ err: String(err) }, "Supervisor failed") });
  return {
    actor,
    start: () => actor.start(),
    wake: (source: WakeSource) => {
      deps.onWake?.(source);
      actor.send({ type: "WAKE", source });
    },
    schedule: (at: number) => actor.send({ type: "SCHEDULE", at }),
    /** Whether notifications are proven to arrive, and if not, why (for /readyz). */
    listenStatus: (): { up: boolean; reason: string | null } => {
      const s = actor.getSnapshot();
      const up = s.matches({ running: { connection: "listening" } });
      return { up, reason: up ? null : s.context.listenError ?? "not verified yet" };
    },
    /** Resolves once draining is over. */
    stop: () =>
      new Promise<void>((resolve) => {
        const sub = actor.subscribe((s) => {
          if (s.status === "done") {
            sub.unsubscribe();
            resolve();
          }
        });
        if (actor.getSnapshot().status === "done") return resolve();
        actor.send({ type: "STOP" });
      }),
  };
}
