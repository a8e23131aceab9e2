import { startEmbedded } from "/work/main/src/db/embedded.ts";
import { createLogger } from "/work/main/src/log.ts";
const s = await startEmbedded({
  dataDir: "/tmp/x/pgdata",
  port: 55432,
  logger: createLogger("info"),
});
console.log("up", s.url);
await new Promise(() => {});
