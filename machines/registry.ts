// Every saga type this release runs, and every machine version that may still
// own a persisted snapshot. A version string (the ledger's `machine_version`)
// belongs to exactly one definition; in-flight sagas finish on the version they
// started with, so a version stays until no RUNNING or NEEDS_ATTENTION row
// names it (`deno task check-snapshots` tells). New sagas start on their
// definition's current version.
import type { AnyStateMachine } from "xstate";
import { orderSaga } from "./order_definition.ts";
import type { SagaDefinition, SnapshotUpgrade } from "./saga_definition.ts";

export type { SnapshotUpgrade };

/** A registered version: the machine, its definition, and how old snapshots are upgraded. */
export interface RegisteredVersion {
  version: string;
  definition: SagaDefinition;
  machine: AnyStateMachine;
  upgrade?: SnapshotUpgrade;
}

const definitions = new Map<string, SagaDefinition>();
const versions = new Map<string, RegisteredVersion>();
const current = new Map<string, string>();

/**
 * Registers a saga type with all its versions (this release's, or a test's).
 * Refuses a name, version or event type another definition already owns.
 */
export function registerSaga(definition: SagaDefinition): void {
  if (definitions.has(definition.name)) {
    throw new Error(`saga "${definition.name}" is already registered`);
  }
  for (const other of definitions.values()) {
    const theirs = [other.start.eventType, ...Object.keys(other.events)];
    for (const type of [definition.start.eventType, ...Object.keys(definition.events)]) {
      if (theirs.includes(type)) {
        throw new Error(`event type "${type}" already belongs to saga "${other.name}"`);
      }
    }
  }
  for (const version of Object.keys(definition.versions)) {
    if (versions.has(version)) throw new Error(`machine version "${version}" is taken`);
  }
  definitions.set(definition.name, definition);
  for (const [version, v] of Object.entries(definition.versions)) {
    versions.set(version, { version, definition, ...v });
  }
  current.set(definition.name, definition.current);
}

/** Test support: forget a saga type and its versions. */
export function unregisterSaga(name: string): void {
  definitions.delete(name);
  current.delete(name);
  for (const [version, v] of versions) if (v.definition.name === name) versions.delete(version);
}

/**
 * Registers another version of a registered saga type (a new release of it,
 * or a test's). With `current`, new sagas start on it; older versions stay.
 */
export function registerSagaVersion(
  definition: SagaDefinition,
  version: string,
  machine: AnyStateMachine,
  opts: { current?: boolean; upgrade?: SnapshotUpgrade } = {},
): void {
  const owner = versions.get(version)?.definition;
  if (owner && owner.name !== definition.name) {
    throw new Error(`machine version "${version}" belongs to saga "${owner.name}"`);
  }
  // Re-registering a machine the definition declares keeps its declared upgrade.
  const found = opts.upgrade ??
    Object.values(definition.versions).find((v) => v.machine === machine)?.upgrade;
  const upgrade = found ? { upgrade: found } : {};
  versions.set(version, { version, definition, machine, ...upgrade });
  if (opts.current) current.set(definition.name, version);
}

/** Test support: forget a version (to simulate a release that dropped it). */
export function unregisterSagaVersion(version: string): void {
  const found = versions.get(version);
  versions.delete(version);
  if (found && current.get(found.definition.name) === version) {
    current.set(found.definition.name, found.definition.current);
  }
}

/** The version a ledger row names, with its definition; undefined when unknown. */
export function sagaVersion(version: string): RegisteredVersion | undefined {
  return versions.get(version);
}

export function sagaMachine(version: string): AnyStateMachine | undefined {
  return versions.get(version)?.machine;
}

/** Every registered version, in registration order. */
export function sagaVersions(): string[] {
  return [...versions.keys()];
}

/** The version new sagas of `definition` start on. */
export function currentVersion(definition: SagaDefinition): string {
  return current.get(definition.name) ?? definition.current;
}

export function sagaDefinitions(): SagaDefinition[] {
  return [...definitions.values()];
}

/** The saga type an event of `eventType` starts, if any. */
export function definitionStartedBy(eventType: string): SagaDefinition | undefined {
  for (const d of definitions.values()) if (d.start.eventType === eventType) return d;
  return undefined;
}

/** The saga type that accepts `eventType` from outside, if any. */
export function definitionAccepting(eventType: string): SagaDefinition | undefined {
  for (const d of definitions.values()) if (Object.hasOwn(d.events, eventType)) return d;
  return undefined;
}

registerSaga(orderSaga);
