// CLI for checkSnapshots against DATABASE_URL (or DATABASE_HOST parts).
import process from "node:process";
import { hostname } from "node:os";
import { loadConfig } from "../config.ts";
import { connectDatabase } from "../db/client.ts";
import { checkSnapshots } from "./check_snapshots.ts";

const config = loadConfig(Deno.env.toObject(), { hostname: hostname(), pid: Deno.pid });
if (!config.database) {
  process.stderr.write("Set DATABASE_URL (or DATABASE_HOST) to the database to check\n");
  process.exit(2);
}
// Same connection rules as the orchestrator, so it also works through PgBouncer.
const sql = await connectDatabase(config.database.url, {
  max: 2,
  attempts: 1,
  limits: config.dbLimits,
  prepare: config.dbPreparedStatements,
});
try {
  const { checked, problems } = await checkSnapshots(sql);
  for (const p of problems) {
    process.stdout.write(`${p.order_id}  ${p.machine_version}  ${p.state}  ${p.reason}\n`);
  }
  process.stdout.write(`${checked} unfinished sagas checked, ${problems.length} do not load\n`);
  process.exitCode = problems.length ? 1 : 0;
} finally {
  await sql.end({ timeout: 2 });
}
