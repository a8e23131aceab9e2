// What a run cost the database: committed transactions (pg_stat_database
// xact_commit), write transactions (transaction ids assigned: only a
// transaction that writes gets one) and rows written. Read from the
// maintenance database so the reads themselves are not counted.
//
// Backends report their statistics at most once a second, and at exit: read
// the "after" figures once the measured clients have disconnected.
import postgres from "postgres";

export interface Counters {
  xactCommit: number;
  /** Next transaction id: the difference counts write transactions, server-wide. */
  nextXid: number;
  tupInserted: number;
  tupUpdated: number;
  tupDeleted: number;
}

export async function readCounters(adminUrl: string, database: string): Promise<Counters> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<
      {
        xact_commit: string;
        next_xid: string;
        tup_inserted: string;
        tup_updated: string;
        tup_deleted: string;
      }[]
    >`
      SELECT xact_commit, tup_inserted, tup_updated, tup_deleted,
        pg_snapshot_xmax(pg_current_snapshot())::text AS next_xid
      FROM pg_stat_database WHERE datname = ${database}`;
    if (!row) throw new Error(`no statistics for database ${database}`);
    return {
      xactCommit: Number(row.xact_commit),
      nextXid: Number(row.next_xid),
      tupInserted: Number(row.tup_inserted),
      tupUpdated: Number(row.tup_updated),
      tupDeleted: Number(row.tup_deleted),
    };
  } finally {
    await sql.end({ timeout: 2 });
  }
}

export interface Cost {
  /** Committed transactions (read-only ones included) per saga. */
  commitsPerSaga: number;
  /** Transactions that wrote (got a transaction id) per saga. */
  writeCommitsPerSaga: number;
  rowsInsertedPerSaga: number;
  rowsUpdatedPerSaga: number;
}

/**
 * Per-saga cost between two readings, leaving out `ownCommits` transactions
 * the benchmark itself ran on that database (and `ownWrites` of them that wrote).
 */
export function costPerSaga(
  before: Counters,
  after: Counters,
  sagas: number,
  own: { commits: number; writes: number; rowsInserted: number },
): Cost {
  return {
    commitsPerSaga: (after.xactCommit - before.xactCommit - own.commits) / sagas,
    writeCommitsPerSaga: (after.nextXid - before.nextXid - own.writes) / sagas,
    rowsInsertedPerSaga: (after.tupInserted - before.tupInserted - own.rowsInserted) / sagas,
    rowsUpdatedPerSaga: (after.tupUpdated - before.tupUpdated) / sagas,
  };
}
