// Transition coverage for model-based tests: every transition definition of a
// machine, and the ones a live actor actually takes (from XState's own
// `@xstate.microstep` inspection events, which include eventless transitions).
import { type AnyStateMachine, createActor } from "xstate";
import { getShortestPaths } from "xstate/graph";

type Def = {
  source: { id: string; transitions: Map<string, Def[]>; always?: Def[] };
  eventType: string;
};
type Node = {
  id: string;
  transitions: Map<string, Def[]>;
  always?: Def[];
  states?: Record<string, Node>;
};

function keyOf(def: Def): string {
  const list = def.eventType === ""
    ? def.source.always ?? []
    : def.source.transitions.get(def.eventType) ?? [];
  return `${def.source.id} --${def.eventType || "(always)"}#${list.indexOf(def)}`;
}

export function allTransitions(machine: AnyStateMachine): Set<string> {
  const keys = new Set<string>();
  const walk = (node: Node) => {
    for (const defs of node.transitions.values()) for (const d of defs) keys.add(keyOf(d));
    for (const d of node.always ?? []) keys.add(keyOf(d));
    for (const child of Object.values(node.states ?? {})) walk(child);
  };
  walk((machine as unknown as { root: Node }).root);
  return keys;
}

type Snapshot = ReturnType<ReturnType<typeof createActor>["getSnapshot"]>;

export interface ModelRun {
  events: unknown[];
  /** The snapshot after each event (same length as `events`). */
  after: Snapshot[];
  final: Snapshot;
}

/**
 * Every edge of the state graph: the shortest path to each reachable state,
 * extended by each event possible there, replayed in a live actor.
 */
export function exploreEdges(
  machine: AnyStateMachine,
  opts: {
    input?: unknown;
    events: (snapshot: never) => Array<{ type: string }>;
    serializeState: (snapshot: never) => string;
    check?: (run: ModelRun) => void;
  },
) {
  const paths = getShortestPaths(machine, {
    input: opts.input,
    events: opts.events as never,
    serializeState: opts.serializeState as never,
  } as never);
  const taken = new Set<string>();
  let runs = 0;
  for (const path of paths) {
    const prefix = path.steps.map((s) => s.event);
    const next = path.state.status === "active" ? opts.events(path.state as never) : [];
    for (const tail of next.length ? next.map((e) => [e]) : [[]]) {
      const events = [...prefix, ...tail];
      const actor = createActor(machine, {
        input: opts.input,
        inspect: (e) => {
          if (e.type !== "@xstate.microstep") return;
          for (const d of (e as unknown as { _transitions: Def[] })._transitions) {
            taken.add(keyOf(d));
          }
        },
      });
      actor.start();
      const after: Snapshot[] = [];
      for (const ev of events) {
        actor.send(ev as never);
        after.push(actor.getSnapshot());
      }
      opts.check?.({ events, after, final: actor.getSnapshot() });
      actor.stop();
      runs++;
    }
  }
  return { states: paths.length, runs, taken };
}
