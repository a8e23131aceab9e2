// Whether an operator may cancel or retry a saga, asked of the saga's own
// definition (machines/) on its restored snapshot. Nothing here, and nothing
// in SQL, re-derives those rules. The one thing decided here is what to do
// when the definition cannot be asked: a version this release does not know,
// or a snapshot that does not load.
import type { LedgerStatus, Verdict } from "../../machines/saga_definition.ts";
import { sagaVersion } from "../../machines/registry.ts";
import { restoreSnapshot, type SagaSnapshot } from "../engine/saga_state.ts";

export interface JudgedRow {
  status: string;
  machine_version: string;
  snapshot: unknown;
}

type Judged =
  | { ok: true; status: LedgerStatus; snapshot: SagaSnapshot; rules: RuleSet }
  | { ok: false; reason: string };

interface RuleSet {
  canCancel: (s: { status: LedgerStatus; snapshot: SagaSnapshot }) => Verdict;
  canRetry: (s: { status: LedgerStatus; snapshot: SagaSnapshot }) => Verdict;
}

function restore(row: JudgedRow): Judged {
  const version = sagaVersion(row.machine_version);
  if (!version) {
    return {
      ok: false,
      reason: `its machine version "${row.machine_version}" is not known to this release`,
    };
  }
  try {
    const snapshot = restoreSnapshot(version, row.snapshot as never);
    return { ok: true, status: row.status as LedgerStatus, snapshot, rules: version.definition };
  } catch (err) {
    return { ok: false, reason: `its snapshot does not load: ${(err as Error).message}` };
  }
}

/** The definition's answer to "may this saga still be cancelled?" (refused when it cannot be asked). */
export function cancelVerdict(row: JudgedRow): Verdict {
  if (row.status === "COMPLETED" || row.status === "CANCELLED") {
    return { allowed: false, reason: "the saga has finished" };
  }
  const judged = restore(row);
  if (!judged.ok) return { allowed: false, reason: judged.reason };
  return judged.rules.canCancel(judged);
}

/**
 * The definition's answer to "may this saga be retried?". A parked saga whose
 * definition cannot be asked may still be retried: the runner parked it for
 * exactly that reason, and a retry after a release that fixed it is how an
 * operator resumes it (if it still does not load, the runner parks it again).
 */
export function retryVerdict(row: JudgedRow): Verdict {
  const judged = restore(row);
  if (!judged.ok) {
    return row.status === "NEEDS_ATTENTION" ? { allowed: true } : {
      allowed: false,
      reason: `saga is ${row.status}; only a NEEDS_ATTENTION saga can be retried`,
    };
  }
  return judged.rules.canRetry(judged);
}
