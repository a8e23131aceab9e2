// The local cluster: PostgreSQL, the reference services and orchestrator
// instances as real processes on this machine, for the demo, the benchmark,
// chaos runs and the tests. The service in src/ never imports it.
export { ROOT } from "./processes.ts";
export { alive, Child, type ChildOptions, ProcessGroup, readProcFile } from "./processes.ts";
export { freePort, stablePort } from "./ports.ts";
export {
  DATABASE_TIER,
  type DatabaseServer,
  type FreshDatabase,
  freshDatabase,
  type FreshOptions,
  type PostgresServer,
  RestartableDatabase,
  serverAt,
  serverFromEnv,
  startDatabaseServer,
} from "./database.ts";
export {
  SERVICE_NAMES,
  SERVICE_TIER,
  type Services,
  type ServiceUrls,
  startService,
  startServices,
} from "./services.ts";
export {
  type Instance,
  type InstanceOptions,
  type LogLine,
  ORCHESTRATOR_TIER,
  OrchestratorProcess,
  printWarnings,
  reap,
  startArgs,
  startInstance,
  startOrchestratorProcess,
  taskFlags,
  waitReady,
} from "./orchestrators.ts";
export { type Cluster, withCluster } from "./with_cluster.ts";
