// The embedded PostgreSQL of a chaos run (the demo's helper process), which
// can be stopped and started again on the same data dir and port. The port is
// below the kernel's ephemeral range, so no client's outgoing connection can
// take it while the server is down.
import { type DatabaseServer, startDatabaseServer } from "../demo/database.ts";
import type { ProcessGroup } from "../demo/processes.ts";
import { sleep } from "./time.ts";

function portIsFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** A free port in [20000, 32000), below Linux's default ephemeral range (32768–60999). */
export function stablePort(): number {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (portIsFree(port)) return port;
  }
  throw new Error("no free port in 20000–31999");
}

export class ChaosDatabase {
  restarts = 0;
  #server: DatabaseServer;
  #up: Promise<void> = Promise.resolve();

  private constructor(
    private readonly group: ProcessGroup,
    private readonly dataDir: string,
    private readonly logDir: string,
    server: DatabaseServer,
  ) {
    this.#server = server;
  }

  static async start(
    group: ProcessGroup,
    opts: { dataDir: string; logDir: string },
  ): Promise<ChaosDatabase> {
    const server = await startDatabaseServer(group, {
      dataDir: opts.dataDir,
      port: stablePort(),
      logFile: `${opts.logDir}/postgres.log`,
    });
    return new ChaosDatabase(group, opts.dataDir, opts.logDir, server);
  }

  get server(): DatabaseServer {
    return this.#server;
  }

  /** Resolves at once, or when a restart in progress has finished. */
  whenUp(): Promise<void> {
    return this.#up;
  }

  /** Stops PostgreSQL (fast shutdown), waits `downMs`, starts it again on the same port. */
  async restart(downMs: number): Promise<void> {
    let done!: () => void;
    this.#up = new Promise((resolve) => done = resolve);
    try {
      await this.group.stop(this.#server.child);
      await sleep(downMs);
      const port = this.#server.port;
      for (let attempt = 1;; attempt++) {
        try {
          this.#server = await startDatabaseServer(this.group, {
            dataDir: this.dataDir,
            port,
            logFile: `${this.logDir}/postgres.${this.restarts + 1}.${attempt}.log`,
          });
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
          await sleep(1000);
        }
      }
      if (this.#server.port !== port) {
        throw new Error(`PostgreSQL came back on port ${this.#server.port}, not ${port}`);
      }
      this.restarts++;
    } finally {
      done();
    }
  }
}
