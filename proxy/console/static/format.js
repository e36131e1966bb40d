// Numbers with their units, and times in the viewer's own zone.

const NUM = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const DEC1 = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const DEC2 = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const DATETIME = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
});
const DAY_HOUR = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const DAY = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const HOUR_MINUTE = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

const missing = (v) => v === null || v === undefined || Number.isNaN(v);
export const DASH = "–";

export const int = (v) => (missing(v) ? DASH : NUM.format(v));

/** 1234 -> "1.2k", 1_200_000 -> "1.2M" (token counts, context windows). */
export function compact(v) {
  if (missing(v)) return DASH;
  const a = Math.abs(v);
  if (a >= 1e6) return `${DEC1.format(v / 1e6)}M`;
  if (a >= 1e4) return `${NUM.format(v / 1e3)}k`;
  if (a >= 1e3) return `${DEC1.format(v / 1e3)}k`;
  return NUM.format(v);
}

export const tokens = (v) => (missing(v) ? DASH : `${compact(v)} tok`);
export const contextWindow = (v) => (missing(v) ? DASH : `${compact(v)} tokens`);

/** Dollars with as many digits as a small amount needs: $12.40, $0.0042, $0.000031. */
export function usd(v) {
  if (missing(v)) return DASH;
  if (v === 0) return "$0";
  const a = Math.abs(v);
  if (a >= 1) return `$${v.toFixed(2)}`;
  // three significant digits for small amounts, without trailing zeros: $0.00424, $0.0005
  const digits = Math.min(8, Math.max(2, 2 - Math.floor(Math.log10(a))));
  return `$${v.toFixed(digits).replace(/(\.\d*?[1-9])0+$/, "$1")}`;
}

export const pricePerM = (v) => (missing(v) ? DASH : `$${DEC2.format(v)} / 1M`);
export const price = (v) => (missing(v) ? DASH : `$${DEC2.format(v)}`);

/** 412.3 -> "412 ms", 2310 -> "2.31 s". */
export function ms(v) {
  if (missing(v)) return DASH;
  if (v >= 10_000) return `${DEC1.format(v / 1000)} s`;
  if (v >= 1000) return `${DEC2.format(v / 1000)} s`;
  return `${NUM.format(v)} ms`;
}

export const perSecond = (v) => (missing(v) ? DASH : `${NUM.format(v)} tok/s`);
export const perSecondShort = (v) => (missing(v) ? DASH : `${compact(v)}/s`);
export const pct = (v) => (missing(v) ? DASH : `${DEC1.format(v * 100)}%`);
export const score = (v) => (missing(v) ? DASH : v.toFixed(3));

/** Parse an RFC 3339 string or Unix seconds into a Date (null if neither). */
export function toDate(v) {
  if (missing(v) || v === "") return null;
  const d = typeof v === "number" ? new Date(v * 1000) : /^\d+(\.\d+)?$/.test(v) ? new Date(Number(v) * 1000) : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

export const time = (v) => { const d = toDate(v); return d ? TIME.format(d) : DASH; };
export const dateTime = (v) => { const d = toDate(v); return d ? DATETIME.format(d) : DASH; };
export const dayHour = (v) => { const d = toDate(v); return d ? DAY_HOUR.format(d) : DASH; };
export const hourMinute = (v) => { const d = toDate(v); return d ? HOUR_MINUTE.format(d) : DASH; };
export const day = (v) => { const d = toDate(v); return d ? DAY.format(d) : DASH; };
export const zone = () => ZONE;

/** "3 s ago", "5 min ago". */
export function ago(v, now = Date.now()) {
  const d = toDate(v);
  if (!d) return DASH;
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
