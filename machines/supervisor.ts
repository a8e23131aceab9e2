// The supervisor: turns wake-ups into claim cycles, one at a time.
//
//   starting     waiting for the first LISTEN answer (up = a probe came back; or down)
//   running      two regions, plus the poll ticker:
//     connection   listening ⇄ pollingOnly (LISTEN down; the listener keeps retrying)
//     work         claiming ⇄ idle. A WAKE while claiming only sets `again`, so a
//                  burst of 1,000 notifications costs one extra cycle, not 1,000.
//                  A cycle that fails with a wake-up queued waits a moment
//                  (backingOff) and runs again: the wake-up is not lost, and a
//                  database that keeps failing is not hammered.
//   draining     STOP: no more claims; in-flight sagas finish, leases are released
//   stopped      final
//
// Wake sources: notify (NOTIFY order_events), poll (the ticker), relisten
// (LISTEN came back: catch up on what was missed), timer (a retry deadline),
// capacity (a saga ended while we were full). Effects are provided actors.
import { assign, fromCallback, fromPromise, sendTo, setup } from "xstate";

export type WakeSource = "notify" | "poll" | "relisten" | "timer" | "capacity" | "start";

export type SupervisorEvent =
  | { type: "WAKE"; source: WakeSource }
  | { type: "LISTEN_UP" }
  | { type: "LISTEN_DOWN"; error: string }
  | { type: "SCHEDULE"; at: number }
  | { type: "STOP" };

export interface CycleOutput {
  /** Work was left over (a full batch or a full pool): run another cycle. */
  more: boolean;
  /** When the database says something next becomes runnable, if known. */
  nextWakeAt: number | null;
}

const placeholder = <T>() =>
  fromPromise<T>(() => {
    throw new Error("provided by src/engine/supervisor.ts");
  });

export const supervisorMachine = setup({
  types: {
    context: {} as {
      again: boolean;
      cycles: number;
      listening: boolean;
      /** Why LISTEN cannot be relied on right now (for /readyz); null while listening. */
      listenError: string | null;
    },
    events: {} as SupervisorEvent,
  },
  actors: {
    listener: fromCallback<SupervisorEvent>(() => {}),
    ticker: fromCallback<SupervisorEvent>(() => {}),
    claimCycle: placeholder<CycleOutput>(),
    drain: placeholder<void>(),
  },
  actions: {
    // Logging hooks: no-ops here, provided with I/O by the runtime.
    reportCycleError: (_, _params: { error: unknown }) => {},
    reportListen: (_, _params: { up: boolean; error?: string }) => {},
  },
  guards: {
    moreWork: ({ context, event }) =>
      context.again || (event as unknown as { output: CycleOutput }).output.more,
    wokenMeanwhile: ({ context }) => context.again,
  },
  delays: {
    /** After a failed cycle, before the one a queued wake-up asks for. */
    errorBackoff: 500,
  },
}).createMachine({
  id: "supervisor",
  context: { again: false, cycles: 0, listening: false, listenError: null },
  invoke: { id: "listener", src: "listener" },
  initial: "starting",
  states: {
    starting: {
      on: {
        LISTEN_UP: {
          target: "running",
          actions: [
            assign({ listening: true, listenError: null }),
            { type: "reportListen", params: { up: true } },
          ],
        },
        LISTEN_DOWN: {
          target: "running",
          actions: [
            assign({ listenError: ({ event }) => event.error }),
            {
              type: "reportListen",
              params: ({ event }) => ({ up: false, error: event.error }),
            },
          ],
        },
        STOP: "stopped",
      },
    },
    running: {
      type: "parallel",
      invoke: { id: "ticker", src: "ticker" },
      on: {
        STOP: "draining",
        SCHEDULE: { actions: sendTo("ticker", ({ event }) => event) },
      },
      states: {
        connection: {
          initial: "decide",
          states: {
            decide: {
              always: [
                { guard: ({ context }) => context.listening, target: "listening" },
                { target: "pollingOnly" },
              ],
            },
            listening: {
              on: {
                LISTEN_DOWN: {
                  target: "pollingOnly",
                  actions: [
                    assign({ listenError: ({ event }) => event.error }),
                    {
                      type: "reportListen",
                      params: ({ event }) => ({ up: false, error: event.error }),
                    },
                  ],
                },
              },
            },
            pollingOnly: {
              on: {
                LISTEN_UP: {
                  target: "listening",
                  actions: [
                    assign({ listenError: null }),
                    { type: "reportListen", params: { up: true } },
                  ],
                },
                // Still down, for another reason now (e.g. connected, but the probe
                // did not come back): keep the reason current, without a new warning.
                LISTEN_DOWN: { actions: assign({ listenError: ({ event }) => event.error }) },
              },
            },
          },
        },
        work: {
          initial: "claiming",
          states: {
            idle: {
              on: {
                WAKE: "claiming",
                // Every (re)connect may have missed notifications: catch up.
                LISTEN_UP: "claiming",
              },
            },
            claiming: {
              entry: assign({ again: false, cycles: ({ context }) => context.cycles + 1 }),
              on: {
                WAKE: { actions: assign({ again: true }) },
                LISTEN_UP: { actions: assign({ again: true }) },
              },
              invoke: {
                id: "claimCycle",
                src: "claimCycle",
                onDone: [
                  { guard: "moreWork", target: "claiming", reenter: true },
                  {
                    target: "idle",
                    actions: sendTo("ticker", ({ event }) => ({
                      type: "SCHEDULE" as const,
                      at: event.output.nextWakeAt ?? Number.POSITIVE_INFINITY,
                    })),
                  },
                ],
                onError: [
                  {
                    guard: "wokenMeanwhile",
                    target: "backingOff",
                    actions: {
                      type: "reportCycleError",
                      params: ({ event }) => ({ error: event.error }),
                    },
                  },
                  {
                    target: "idle",
                    actions: {
                      type: "reportCycleError",
                      params: ({ event }) => ({ error: event.error }),
                    },
                  },
                ],
              },
            },
            backingOff: {
              after: { errorBackoff: "claiming" },
            },
          },
        },
      },
    },
    draining: {
      invoke: { id: "drain", src: "drain", onDone: "stopped", onError: "stopped" },
    },
    stopped: { type: "final" },
  },
});
