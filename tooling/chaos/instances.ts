// The orchestrator instances of a chaos run: started like `deno task start`
// (the local cluster's startInstance), killed with SIGKILL, started again with the
// same INSTANCE_ID. A start that fails because the database is restarting is
// retried (the life cycle allows exiting then); an instance that exits by itself once
// it was running is recorded, since run-time failures must never crash it.
import {
  type Instance,
  type ProcessGroup,
  type RestartableDatabase,
  type ServiceUrls,
  startInstance,
  waitReady,
} from "../cluster/mod.ts";
import { ORCHESTRATOR_ENV } from "./options.ts";
import { sleep } from "./time.ts";

export interface UnexpectedExit {
  id: string;
  code: number;
  signal: string | null;
  log: string;
  tail: string;
}

interface Slot {
  id: string;
  incarnation: number;
  instance?: Instance;
  up: boolean;
  /** Set when we kill or stop it: its exit is expected. */
  expectExit: boolean;
}

export class ChaosInstances {
  kills = 0;
  restarts = 0;
  startRetries = 0;
  unexpectedExits: UnexpectedExit[] = [];
  /** Instances that did not exit 0 on SIGTERM at the end. */
  badShutdowns: Array<{ id: string; code: number; tail: string }> = [];
  #slots: Slot[];
  #pending = new Set<Promise<void>>();
  #stopping = false;

  constructor(
    private readonly group: ProcessGroup,
    private readonly db: RestartableDatabase,
    private readonly services: ServiceUrls,
    private readonly databaseUrl: string,
    private readonly logDir: string,
    count: number,
    private readonly log: (line: string) => void,
  ) {
    this.#slots = Array.from({ length: count }, (_, i) => ({
      id: `chaos-${i + 1}`,
      incarnation: 0,
      up: false,
      expectExit: false,
    }));
  }

  async startAll(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => this.#start(slot)));
  }

  /** Ids of the instances up now. */
  upIds(): string[] {
    return this.#slots.filter((s) => s.up).map((s) => s.id);
  }

  /** SIGKILL, then (in the background) a start with the same id after `deadForMs`. */
  async killAndRestart(id: string, deadForMs: number): Promise<void> {
    const slot = this.#slots.find((s) => s.id === id);
    const child = slot?.instance?.child;
    if (!slot || !slot.up || !child) return;
    slot.up = false;
    slot.expectExit = true;
    child.kill("SIGKILL");
    await child.status;
    this.kills++;
    this.log(`kill -9 ${id} (pid ${child.pid}); back in ${deadForMs} ms`);
    this.#background(
      sleep(deadForMs).then(async () => {
        await this.#start(slot);
        this.restarts++;
      }),
    );
  }

  /** Resolves when every restart started so far has finished. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  /** SIGTERM to every instance (they drain and release their leases). */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    await this.settled();
    await Promise.all(this.#slots.map(async (slot) => {
      const child = slot.instance?.child;
      if (!child || child.exited) return;
      slot.expectExit = true;
      slot.up = false;
      const status = await this.group.stop(child);
      if (status.code !== 0) {
        this.badShutdowns.push({ id: slot.id, code: status.code, tail: child.tail() });
      }
    }));
  }

  #background(task: Promise<void>): void {
    const tracked = task.catch((err) => this.log(`restart failed: ${err}`)).finally(() =>
      this.#pending.delete(tracked)
    );
    this.#pending.add(tracked);
  }

  async #start(slot: Slot): Promise<void> {
    for (let attempt = 1;; attempt++) {
      if (this.#stopping) return;
      await this.db.whenUp();
      slot.incarnation++;
      slot.expectExit = false;
      const logFile = `${this.logDir}/${slot.id}.${slot.incarnation}.log`;
      const instance = await startInstance(this.group, {
        id: slot.id,
        databaseUrl: this.databaseUrl,
        services: this.services,
        env: ORCHESTRATOR_ENV,
        logFile,
      });
      slot.instance = instance;
      try {
        await waitReady(instance, { listen: false, timeoutMs: 60_000 });
      } catch (err) {
        // Most likely the database went down while it started: try again.
        slot.expectExit = true;
        instance.child.kill("SIGKILL");
        await instance.child.status;
        this.startRetries++;
        this.log(`${slot.id} did not start (attempt ${attempt}): ${String(err).split("\n")[0]}`);
        if (attempt >= 5) throw err;
        await sleep(500);
        continue;
      }
      slot.up = true;
      this.#watch(slot, instance, logFile);
      return;
    }
  }

  #watch(slot: Slot, instance: Instance, logFile: string): void {
    instance.child.status.then((status) => {
      if (slot.instance !== instance || slot.expectExit || this.#stopping) return;
      slot.up = false;
      this.unexpectedExits.push({
        id: slot.id,
        code: status.code,
        signal: status.signal,
        log: logFile,
        tail: instance.child.tail(),
      });
      this.log(`${slot.id} exited by itself (code ${status.code}); starting it again`);
      this.#background(this.#start(slot));
    });
  }
}
