// XState's pure `transition()` and `initialTransition()`, without their
// per-call set-up. Those functions build a throwaway actor for every call,
// and constructing an actor computes the machine's initial state (with no
// input, which throws inside XState and is caught): most of the CPU of a saga
// transition. The machine's own ActorLogic methods, `transition(snapshot,
// event, scope)` and `getInitialSnapshot(scope, input)`, take the actor scope
// as an argument, so one side-effect-free scope per machine does the same job: actions
// are collected, never executed.
//
// Safe to share because the call is synchronous and our machines give no
// actor a systemId (the only thing XState's fresh system per call protects).
// test/engine/pure_transition_test.ts checks, over every generated path, that
// the result is exactly what xstate's own functions return.
import {
  type AnyActorScope,
  type AnyStateMachine,
  createActor,
  type ExecutableActionsFrom,
  type MachineSnapshot,
} from "xstate";

interface PureScope {
  scope: AnyActorScope;
  actions: unknown[];
}

const scopes = new WeakMap<AnyStateMachine, PureScope>();

function pureScope(machine: AnyStateMachine): PureScope {
  let found = scopes.get(machine);
  if (found) return found;
  // Never started: its own (failed) initial state is never used or reported.
  const self = createActor(machine);
  const actions: unknown[] = [];
  const scope = {
    self,
    id: "",
    sessionId: "",
    system: self.system,
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: (action: unknown) => void actions.push(action),
  } as unknown as AnyActorScope;
  found = { scope, actions };
  scopes.set(machine, found);
  return found;
}

type Result<M extends AnyStateMachine> = [
  ReturnType<M["transition"]>,
  ExecutableActionsFrom<M>[],
];

/** As xstate's `transition(machine, snapshot, event)`. */
export function pureTransition<M extends AnyStateMachine>(
  machine: M,
  snapshot: MachineSnapshot<never, never, never, never, never, never, never, never>,
  event: { type: string },
): Result<M> {
  const { scope, actions } = pureScope(machine);
  actions.length = 0;
  const next = machine.transition(snapshot as never, event as never, scope);
  return [next as ReturnType<M["transition"]>, actions.splice(0) as ExecutableActionsFrom<M>[]];
}

/** As xstate's `initialTransition(machine, input)`. */
export function pureInitialTransition<M extends AnyStateMachine>(
  machine: M,
  input: unknown,
): Result<M> {
  const { scope, actions } = pureScope(machine);
  actions.length = 0;
  const next = machine.getInitialSnapshot(scope, input as never);
  return [next as ReturnType<M["transition"]>, actions.splice(0) as ExecutableActionsFrom<M>[]];
}

/**
 * The input of the invocation `invokeId` active in `snapshot`, computed as
 * XState did when the state was entered. Requested steps are stored without
 * their input (it repeats the context) and get it back from here when a saga
 * is resumed, so a machine's invoke inputs must derive from its context
 * alone, never from the event that entered the state.
 */
export function invokeInput(
  snapshot: MachineSnapshot<never, never, never, never, never, never, never, never>,
  invokeId: string,
): unknown {
  for (const node of (snapshot as unknown as { _nodes: AnyStateMachine["root"][] })._nodes) {
    for (const def of node.invoke) {
      if (def.id !== invokeId) continue;
      const input = def.input as unknown;
      return typeof input === "function"
        ? input({ context: snapshot.context, event: { type: "xstate.resume" }, self: undefined })
        : input;
    }
  }
  throw new Error(`no invocation "${invokeId}" is active in this state`);
}
