// The run store's SQL, one named statement each; RunStore prepares them all once.
export const RUN_STORE_SQL = {
  insertRun: `INSERT INTO runs (id, status, created_at, updated_at, state, input, metadata)
         VALUES (@id, 'pending', @now, @now, @state, @input, @metadata)`,
  getRun: 'SELECT * FROM runs WHERE id = ?',
  // a lane's run belongs to the run that drives the lanes, which is the one people start and steer
  latestRun: `SELECT * FROM runs WHERE json_extract(metadata, '$.parent_run_id') IS NULL
         ORDER BY created_at DESC, rowid DESC LIMIT 1`,
  laneRuns: `SELECT * FROM runs WHERE json_extract(metadata, '$.parent_run_id') = ?
         ORDER BY created_at, rowid`,
  nextTurnSeq: 'SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM turns WHERE run_id = ?',
  insertTurn: `INSERT INTO turns (run_id, seq, ticket_path, ticket_id, agent, kind, status, started_at)
         VALUES (@runId, @seq, @ticketPath, @ticketId, @agent, @kind, 'running', @now) RETURNING *`,
  getTurn: 'SELECT * FROM turns WHERE id = ?',
  finishTurn: `UPDATE turns SET status = @status, finished_at = @now, usage = @usage, error = @error,
           output_excerpt = @outputExcerpt
         WHERE id = @id AND status = 'running' RETURNING *`,
  interruptTurns: `UPDATE turns SET status = 'interrupted', finished_at = ?, error = ?
         WHERE run_id = ? AND status = 'running'`,
  listTurns: 'SELECT * FROM turns WHERE run_id = ? ORDER BY seq',
  runSeq: 'SELECT last_event_seq FROM runs WHERE id = ?',
  runProgress: 'SELECT status, last_event_seq FROM runs WHERE id = ?',
  dataVersion: 'PRAGMA data_version',
  totalChanges: 'SELECT total_changes() AS n',
  setRunSeq: 'UPDATE runs SET last_event_seq = ? WHERE id = ?',
  insertEvent: 'INSERT INTO events (run_id, seq, turn_id, type, at, data) VALUES (?, ?, ?, ?, ?, ?)',
  getCounts: 'SELECT kept, dropped, truncated FROM event_counts WHERE run_id = ? AND type = ?',
  upsertCounts: `INSERT INTO event_counts (run_id, type, kept, dropped, truncated) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (run_id, type) DO UPDATE SET
           kept = excluded.kept, dropped = excluded.dropped, truncated = excluded.truncated`,
  eventStats:
    'SELECT type, kept, dropped, truncated, pruned FROM event_counts WHERE run_id = ? ORDER BY type',
  insertArtifact: `INSERT INTO artifacts (id, run_id, kind, path, created_at, metadata)
         VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
  listArtifacts: 'SELECT * FROM artifacts WHERE run_id = ? ORDER BY created_at, rowid',
} as const;
