// A cluster for one test: a fresh database on the tests' server, the
// reference services in this process (tooling/reference_services startSandbox)
// and orchestrator processes on both, all torn down afterwards.
import { type Sandbox, startSandbox } from "../reference_services/mod.ts";
import { type FreshDatabase, freshDatabase } from "./database.ts";
import {
  type OrchestratorProcess,
  printWarnings,
  reap,
  startOrchestratorProcess,
} from "./orchestrators.ts";

export interface Cluster {
  db: FreshDatabase;
  sandbox: Sandbox;
  /** An orchestrator process on this cluster's database and services; reaped at the end. */
  start(instanceId: string, env?: Record<string, string>): OrchestratorProcess;
}

/**
 * Runs `body` on a fresh cluster. On failure the processes' warnings are
 * printed; afterwards every process is killed and everything closed.
 */
export async function withCluster(
  sandboxOptions: Parameters<typeof startSandbox>[0],
  body: (cluster: Cluster) => Promise<void>,
): Promise<void> {
  const db = await freshDatabase();
  const sandbox = await startSandbox(sandboxOptions);
  const started: OrchestratorProcess[] = [];
  const start = (instanceId: string, env: Record<string, string> = {}) => {
    const p = startOrchestratorProcess({
      DATABASE_URL: db.url,
      ...sandbox.env,
      INSTANCE_ID: instanceId,
      HTTP_TIMEOUT_MS: "10000",
      ...env,
    });
    started.push(p);
    return p;
  };
  try {
    await body({ db, sandbox, start });
  } catch (err) {
    printWarnings(...started);
    throw err;
  } finally {
    await reap(...started);
    await sandbox.close();
    await db.drop();
  }
}
