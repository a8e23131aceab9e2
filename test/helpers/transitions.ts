// A saga's transition as the runner hands it to the writer (a step's outcome
// moving it on), fenced by the lease the caller names: for the tests of the
// transition statement itself (src/db/transitions.ts).
import type { Transition } from "../../src/db/transitions.ts";

export function stepTransition(
  lease: { orderId: string; me: string; epoch: string; revision: string },
  over: Partial<Transition> = {},
): Transition {
  return {
    ...lease,
    snapshot: { value: "reservingInventory", context: {} },
    state: "reservingInventory",
    status: "RUNNING",
    pending: null,
    release: false,
    runAt: null,
    clearRetry: false,
    lastError: null,
    step: { name: "createOrder", outcome: "ok", httpStatus: 201, body: {} },
    history: [{
      event: "createOrder:ok",
      from: "creatingOrder",
      to: "reservingInventory",
      detail: null,
    }],
    ...over,
  };
}
