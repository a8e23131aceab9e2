// `deno task check-snapshots`: loads every unfinished saga (RUNNING or
// NEEDS_ATTENTION) and checks that it still loads into its registered machine
// version, and that its pending work still makes sense there. Run it before
// a release that changes machines/: a saga that no longer loads would be
// parked at its next step. Exits 1 and lists what fails.
import type { Sql } from "../db/client.ts";
import { sagaVersion } from "../../machines/registry.ts";
import { restoreSnapshot, statePath } from "../engine/saga_state.ts";
import { listUnfinishedSagas } from "../db/tool_queries.ts";

export interface SnapshotProblem {
  order_id: string;
  machine_version: string;
  state: string;
  reason: string;
}

export async function checkSnapshots(
  sql: Sql,
): Promise<{ checked: number; problems: SnapshotProblem[] }> {
  const problems: SnapshotProblem[] = [];
  let checked = 0;
  for await (const rows of listUnfinishedSagas(sql).cursor(500)) {
    for (const row of rows) {
      checked++;
      const problem = (reason: string) =>
        problems.push({
          order_id: row.order_id,
          machine_version: row.machine_version,
          state: row.state,
          reason,
        });
      const version = sagaVersion(row.machine_version);
      if (!version) {
        problem(`machine version "${row.machine_version}" is not registered`);
        continue;
      }
      let path: string;
      try {
        path = statePath(restoreSnapshot(version, row.snapshot).value);
      } catch (err) {
        problem((err as Error).message);
        continue;
      }
      const pending = row.pending as { kind?: string; step?: string; invokeId?: string } | null;
      const { machine } = version;
      const node = machine.getStateNodeById(`${machine.id}.${path}`) as unknown as {
        invoke: Array<{ src: unknown; id: string }>;
        after: unknown[];
      };
      if (pending?.kind === "step" && !node.invoke.some((i) => i.src === pending.step)) {
        problem(`pending step "${pending.step}" is not invoked by state "${path}"`);
      } else if (
        pending?.kind === "step" && pending.invokeId !== undefined &&
        !node.invoke.some((i) => i.id === pending.invokeId)
      ) {
        // Its outcome would arrive as an event this state no longer handles.
        problem(
          `pending step "${pending.step}" was invoked as "${pending.invokeId}", ` +
            `but state "${path}" now invokes it as "${node.invoke.map((i) => i.id).join(", ")}"`,
        );
      }
      if (pending?.kind === "timer" && node.after.length === 0) {
        problem(`a retry timer is pending but state "${path}" has no delayed transition`);
      }
    }
  }
  return { checked, problems };
}
