// The chaos schedule: every few seconds a random running instance is killed
// with SIGKILL and started again after a short random pause; once half the
// orders are placed, PostgreSQL is stopped and started again, exactly once.
// Seeded: the same seed gives the same pauses and the same picks (which
// instances are up at a pick depends on timing).
import { rng } from "../cluster/orders.ts";
import type { RestartableDatabase } from "../cluster/mod.ts";
import type { ChaosInstances } from "./instances.ts";
import type { ChaosOptions } from "./options.ts";
import { between, pollUntil, sleep } from "./time.ts";

export interface MonkeyInput {
  opts: ChaosOptions;
  db: RestartableDatabase;
  instances: ChaosInstances;
  /** True once half the orders are placed. */
  halfway(): boolean;
  /** True once every order is placed. */
  producerDone(): boolean;
  log(line: string): void;
}

async function killLoop(m: MonkeyInput): Promise<void> {
  const random = rng(m.opts.seed + 1);
  while (!(m.producerDone() && m.instances.kills >= m.opts.minKills)) {
    await sleep(between(random, m.opts.killEveryMs));
    const up = m.instances.upIds();
    const victim = up[Math.floor(random() * up.length)];
    const deadFor = between(random, m.opts.deadForMs);
    if (victim !== undefined) await m.instances.killAndRestart(victim, deadFor);
  }
}

async function databaseRestart(m: MonkeyInput): Promise<void> {
  const random = rng(m.opts.seed + 2);
  // The producer is done early only when it failed: the run is over then.
  await pollUntil(() => Promise.resolve(m.halfway() || m.producerDone()), {
    timeoutMs: Number.MAX_SAFE_INTEGER,
    intervalMs: 50,
  });
  if (!m.halfway()) return;
  const downMs = between(random, m.opts.dbDownMs);
  m.log(`PostgreSQL: stopping (down for ${downMs} ms)`);
  const started = performance.now();
  await m.db.restart(downMs);
  m.log(`PostgreSQL: back after ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** Runs the kills and the database restart; resolves when both are done. */
export async function unleash(m: MonkeyInput): Promise<void> {
  await Promise.all([killLoop(m), databaseRestart(m)]);
}
