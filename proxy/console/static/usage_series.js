// Turning GET /v1/usage rows into chart series (shared by Model details and Usage).
import { toDate } from "./format.js";

export const HOUR_MS = 3600e3;
export const DAY_MS = 24 * HOUR_MS;

/** The time bucket of a row grouped by hour or day, as a Date. */
export const bucketOf = (row) => toDate(row.group.hour ?? row.group.day);

export const errorRate = (row) => (row.requests ? row.errors / row.requests : null);

/** Output tokens per second of a typical request, end to end (its tokens over the median duration).
 * End to end because a non-streamed answer has no generation time of its own to divide by. */
export function throughput(row) {
  if (!row.requests || !row.completion_tokens || !(row.duration_ms_p50 > 0)) return null;
  return row.completion_tokens / row.requests / (row.duration_ms_p50 / 1000);
}

export const groupName = (group, dim) => {
  const value = group[dim];
  return value === null || value === undefined || value === "" ? "(none)" : String(value);
};

/** Every bucket start from `since` to `until` (hours or days, aligned in UTC as the log groups them). */
export function buckets(since, until, stepMs) {
  const out = [];
  for (let t = Math.floor(since.getTime() / stepMs) * stepMs; t <= until.getTime(); t += stepMs) out.push(t);
  return out;
}

/**
 * Rows grouped by (dim, hour|day) -> series per dim value, each point (bucket, metric(row)).
 * Keeps the `top` groups by `rank(row)` summed. With `zeroFill` (bucket starts in ms), a count
 * (requests, tokens, spend) is 0 in a bucket with no row, so lines do not bridge idle hours.
 */
export function seriesBy(rows, dim, metric, { top = 6, rank = (r) => r.requests, zeroFill } = {}) {
  const totals = new Map();
  for (const row of rows) {
    const name = groupName(row.group, dim);
    totals.set(name, (totals.get(name) || 0) + (rank(row) || 0));
  }
  const keep = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name]) => name);
  return keep.map((name) => {
    const points = rows.filter((r) => groupName(r.group, dim) === name).map((r) => [bucketOf(r), metric(r)]).filter(([t]) => t);
    if (zeroFill) {
      const seen = new Set(points.map(([t]) => t.getTime()));
      for (const t of zeroFill) if (!seen.has(t)) points.push([new Date(t), 0]);
    }
    return { name, points };
  });
}

/** Sum the additive fields of usage rows (totals for a range). */
export function sumRows(rows) {
  const total = { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0, failed_attempts_cost_usd: 0 };
  for (const row of rows) for (const k of Object.keys(total)) total[k] += row[k] || 0;
  return total;
}
