// Turning GET /v1/usage rows into chart series (shared by Model details and Usage).
import { toDate } from "./format.js";

export const HOUR_MS = 3600e3;
export const DAY_MS = 24 * HOUR_MS;

/** The time bucket of a row grouped by hour or day, as a Date. */
export const bucketOf = (row) => toDate(row.group.hour ?? row.group.day);

export const errorRate = (row) => (row.requests ? row.errors / row.requests : null);

/** Output tokens per second of a typical request: tokens per request over the median generation time. */
export function throughput(row) {
  const generation = (row.duration_ms_p50 ?? 0) - (row.ttft_ms_p50 ?? 0);
  if (!row.requests || !row.completion_tokens || generation <= 0) return null;
  return row.completion_tokens / row.requests / (generation / 1000);
}

export const groupName = (group, dim) => {
  const value = group[dim];
  return value === null || value === undefined || value === "" ? "(none)" : String(value);
};

/**
 * Rows grouped by (dim, hour|day) -> series per dim value, each point (bucket, metric(row)).
 * Keeps the `top` groups by `rank(row)` summed, and folds the rest into "other" when `fold` is given.
 */
export function seriesBy(rows, dim, metric, { top = 6, rank = (r) => r.requests } = {}) {
  const totals = new Map();
  for (const row of rows) {
    const name = groupName(row.group, dim);
    totals.set(name, (totals.get(name) || 0) + (rank(row) || 0));
  }
  const keep = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name]) => name);
  return keep.map((name) => ({
    name,
    points: rows.filter((r) => groupName(r.group, dim) === name).map((r) => [bucketOf(r), metric(r)]).filter(([t]) => t),
  }));
}

/** Sum the additive fields of usage rows (totals for a range). */
export function sumRows(rows) {
  const total = { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, failed_attempts_cost_usd: 0 };
  for (const row of rows) for (const k of Object.keys(total)) total[k] += row[k] || 0;
  return total;
}
