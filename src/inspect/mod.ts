// Opt-in streaming to the Stately inspector, over WebSocket to a
// relay (`deno task inspect-relay`). Two sources:
//   inspect  an XState inspection observer for the supervisor, a live actor
//   hooks    `onTransition` for sagas, which are not live actors: each is
//            registered on first sight (as a child of the supervisor), then
//            gets an event and a snapshot frame per persisted transition
// Customer data is stripped from every frame (src/inspect/sanitize.ts). An
// inspector problem never reaches a saga: the hook swallows its own errors.
import { createInspector } from "@statelyai/inspect";
import type {
  AnyActorRef,
  AnyEventObject,
  AnyStateMachine,
  InspectionEvent,
  Observer,
} from "xstate";
import type { Logger } from "../log.ts";
import type { SagaHooks, TransitionInfo } from "../engine/saga_runner.ts";
import { sagaVersion } from "../../machines/registry.ts";
import { inspected, type SagaFrame, stateValue, transitionFrames } from "./frames.ts";
import { sanitizeContext, sanitizeEvent, scrub } from "./sanitize.ts";
import { createSocketAdapter } from "./socket.ts";

export interface InspectionOptions {
  /** The relay's WebSocket URL, e.g. ws://127.0.0.1:8080 (INSPECT_URL). */
  url: string;
  logger: Logger;
  /** Sagas remembered as registered; the oldest are forgotten first (default 10,000). */
  maxTracked?: number;
}

export interface Inspection {
  /** Pass to the supervisor's createActor (OrchestratorDeps.inspect). */
  inspect: Observer<InspectionEvent>;
  hooks: Required<Pick<SagaHooks, "onTransition">>;
  /** Sends one frame of a saga (the replay tool); `secrets` are the strings to scrub. */
  sendSaga(saga: SagaRef, frame: SagaFrame): void;
  /** Resolves true once the relay is connected, false if not within `timeoutMs`. */
  ready(timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

export interface SagaRef {
  orderId: string;
  machine: AnyStateMachine | undefined;
  /** Strings to redact wherever they appear (the definition's `privacy.secrets`). */
  secrets: readonly string[];
}

/** The actor id a saga has in the inspector. */
export const sagaSessionId = (orderId: string) => `saga:${orderId}`;

export function createInspection(opts: InspectionOptions): Inspection {
  const maxTracked = opts.maxTracked ?? 10_000;
  const adapter = createSocketAdapter({ url: opts.url, logger: opts.logger });
  const inspector = createInspector(adapter, { sanitizeContext, sanitizeEvent });
  adapter.start();
  const tracked = new Set<string>();
  let supervisor: { sessionId: string } | undefined;
  let failed = false;

  function sendSaga({ orderId, machine, secrets }: SagaRef, raw: SagaFrame) {
    const sessionId = sagaSessionId(orderId);
    const frame = scrub(raw, secrets);
    if (frame.type === "@xstate.actor") {
      // The inspector reads the definition from `logic.config` and the parent
      // from `_parent`, as it would on a live actor.
      const ref = { sessionId, id: orderId, logic: machine, _parent: supervisor };
      inspector.actor(ref as unknown as AnyActorRef, frame.snapshot);
    } else if (frame.type === "@xstate.event") {
      inspector.event(sessionId, frame.event);
    } else {
      inspector.snapshot(sessionId, frame.snapshot, { event: frame.event });
    }
  }

  function onTransition(info: TransitionInfo) {
    const snapshot = info.snapshot as { status?: string; context?: unknown };
    const version = sagaVersion(info.machineVersion);
    const saga = {
      orderId: info.orderId,
      machine: version?.machine,
      secrets: version?.definition.privacy?.secrets(snapshot.context) ?? [],
    };
    const frames: SagaFrame[] = [];
    if (!tracked.has(info.orderId)) {
      const before = {
        ...inspected(snapshot),
        value: stateValue(info.from),
        status: "active" as const,
      };
      frames.push({ type: "@xstate.actor", snapshot: before });
      tracked.add(info.orderId);
      if (tracked.size > maxTracked) tracked.delete(tracked.values().next().value!);
    }
    frames.push(...transitionFrames(info.event as AnyEventObject, snapshot));
    for (const frame of frames) sendSaga(saga, frame);
    if (snapshot.status === "done") tracked.delete(info.orderId);
  }

  return {
    inspect: {
      next(event) {
        const ref = event.actorRef as { sessionId: string; _parent?: unknown };
        if (event.type === "@xstate.actor" && !ref._parent) supervisor = ref;
        inspector.inspect.next?.(event);
      },
    },
    hooks: {
      onTransition(info) {
        try {
          onTransition(info);
        } catch (err) {
          if (!failed) opts.logger.warn({ err: String(err) }, "Inspector frame failed; continuing");
          failed = true;
        }
      },
    },
    sendSaga,
    ready: (timeoutMs) => adapter.ready(timeoutMs),
    stop: () => adapter.stop(),
  };
}

/** `hooks` with the inspection's onTransition added after their own. */
export function withInspection<H extends SagaHooks>(hooks: H, inspection: Inspection): H {
  return {
    ...hooks,
    onTransition(info: TransitionInfo) {
      hooks.onTransition?.call(hooks, info);
      inspection.hooks.onTransition(info);
    },
  };
}
