// Counters that let a test prove effectively-once processing: every request
// received, and every real effect per order. A replay from the idempotency
// store is counted as a replay, never as a second effect.

export type ServiceName = "orders" | "inventory" | "payments";

export const EFFECTS = {
  orders: ["created", "confirmed", "cancelled"],
  inventory: ["reserved", "released"],
  payments: ["captured", "voided"],
} as const satisfies Record<ServiceName, readonly string[]>;

export type EffectName = (typeof EFFECTS)[ServiceName][number];

export interface EffectLogEntry {
  /** Monotonic across every service in this process, so cross-service order can be checked. */
  seq: number;
  /** Epoch milliseconds (fractional), to line up logs from several processes. */
  at: number;
  service: ServiceName;
  order_id: string;
  effect: EffectName;
}

export interface ServiceStats {
  service: ServiceName;
  /** Requests received, by route ("POST /orders"), including injected faults; /_control excluded. */
  calls: Record<string, number>;
  /**
   * The same requests by Idempotency-Key (those that carried one): how often
   * each logical request was sent, retries included. Only when asked for
   * (it has an entry per key).
   */
  callsByKey?: Record<string, number>;
  /** Real effects per order id. */
  effects: Record<string, Partial<Record<EffectName, number>>>;
  /** Real effects summed over orders; every effect of the service is present, 0 when none. */
  totals: Partial<Record<EffectName, number>>;
  faultsInjected: number;
  idempotentReplays: number;
  /** Effects in the order they happened (oldest first); omitted when asked without the log. */
  log?: EffectLogEntry[];
  /** Oldest log entries dropped because the log is capped. */
  logDropped: number;
}

export const LOG_CAP = 200_000;

// Shared by every recorder in the process: in-process sandboxes get one total order.
let nextSeq = 1;

export class StatsRecorder {
  #calls = new Map<string, number>();
  #callsByKey = new Map<string, number>();
  #effects = new Map<string, Map<EffectName, number>>();
  #totals = new Map<EffectName, number>();
  // Ring buffer: the newest LOG_CAP entries survive a long benchmark run.
  #log: EffectLogEntry[] = [];
  #logStart = 0;
  #logDropped = 0;
  faultsInjected = 0;
  idempotentReplays = 0;

  constructor(readonly service: ServiceName, readonly logCap = LOG_CAP) {}

  /** One request received on `route`, with its Idempotency-Key when it had one. */
  call(route: string, idempotencyKey?: string): void {
    this.#calls.set(route, (this.#calls.get(route) ?? 0) + 1);
    if (idempotencyKey !== undefined) {
      this.#callsByKey.set(idempotencyKey, (this.#callsByKey.get(idempotencyKey) ?? 0) + 1);
    }
  }

  effect(orderId: string, effect: EffectName): void {
    let perOrder = this.#effects.get(orderId);
    if (!perOrder) this.#effects.set(orderId, perOrder = new Map());
    perOrder.set(effect, (perOrder.get(effect) ?? 0) + 1);
    this.#totals.set(effect, (this.#totals.get(effect) ?? 0) + 1);
    const entry: EffectLogEntry = {
      seq: nextSeq++,
      at: performance.timeOrigin + performance.now(),
      service: this.service,
      order_id: orderId,
      effect,
    };
    if (this.#log.length < this.logCap) {
      this.#log.push(entry);
    } else {
      this.#log[this.#logStart] = entry;
      this.#logStart = (this.#logStart + 1) % this.logCap;
      this.#logDropped++;
    }
  }

  /** How many times `effect` really happened for `orderId`. */
  count(orderId: string, effect: EffectName): number {
    return this.#effects.get(orderId)?.get(effect) ?? 0;
  }

  snapshot(options: { log?: boolean; keys?: boolean } = {}): ServiceStats {
    const totals: Partial<Record<EffectName, number>> = {};
    for (const name of EFFECTS[this.service]) totals[name] = this.#totals.get(name) ?? 0;
    const effects: ServiceStats["effects"] = {};
    for (const [orderId, perOrder] of this.#effects) {
      effects[orderId] = Object.fromEntries(perOrder);
    }
    const stats: ServiceStats = {
      service: this.service,
      calls: Object.fromEntries(this.#calls),
      effects,
      totals,
      faultsInjected: this.faultsInjected,
      idempotentReplays: this.idempotentReplays,
      logDropped: this.#logDropped,
    };
    if (options.keys === true) stats.callsByKey = Object.fromEntries(this.#callsByKey);
    if (options.log !== false) {
      stats.log = [...this.#log.slice(this.#logStart), ...this.#log.slice(0, this.#logStart)];
    }
    return stats;
  }

  reset(): void {
    this.#calls.clear();
    this.#callsByKey.clear();
    this.#effects.clear();
    this.#totals.clear();
    this.#log = [];
    this.#logStart = 0;
    this.#logDropped = 0;
    this.faultsInjected = 0;
    this.idempotentReplays = 0;
  }
}
