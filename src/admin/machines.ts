// /machines: the machine definitions as `machine.toJSON()`, for Stately tools
// and the admin page. Saga ids are the registry's versions (e.g.
// "order-saga@1"), each with the saga type it belongs to: every version that
// may still own a snapshot is listed, so an old saga's chart can still be drawn.
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AnyStateMachine } from "xstate";
import { currentVersion, sagaMachine, sagaVersion, sagaVersions } from "../../machines/registry.ts";
import { supervisorMachine } from "../../machines/supervisor.ts";

export const SUPERVISOR_ID = "supervisor";

function find(id: string): AnyStateMachine | undefined {
  return id === SUPERVISOR_ID ? supervisorMachine : sagaMachine(id);
}

export function machineRoutes(): Hono {
  const app = new Hono();

  app.get("/", (c) =>
    c.json([
      ...sagaVersions().map((version) => {
        const { definition } = sagaVersion(version)!;
        return {
          id: version,
          version,
          saga: definition.name,
          current: version === currentVersion(definition),
        };
      }),
      { id: SUPERVISOR_ID, version: null, saga: null, current: true },
    ]));

  app.get("/:id", (c) => {
    const id = c.req.param("id");
    const machine = find(id);
    if (!machine) {
      throw new HTTPException(404, { message: `machine "${id.slice(0, 64)}" not found` });
    }
    return c.json(machine.toJSON());
  });

  return app;
}
