/**
 * One strict reader of ISO 8601 times for every CLI flag and API field that takes one.
 *
 * Hand-written because nothing at hand is strict in the way a security tool needs: `Date.parse`
 * rolls `2027-02-30` over into March and reads `-5` or `1` as years (2001), RFC 3339 validators
 * (Ajv's `date-time`) take a leap second `23:59:60` that no JavaScript time can hold, and
 * date-fns' `parseISO` reads a time without an offset in the machine's local zone. This takes
 * exactly:
 *
 * - a calendar date `YYYY-MM-DD` (that day's start, UTC), and
 * - a date and time `YYYY-MM-DDTHH:MM[:SS[.fraction]]` with `Z` or an offset `±HH:MM` (a space
 *   may stand for the `T`, a lower-case `t`/`z` as RFC 3339 allows),
 *
 * and checks every field's range (the day against its month and leap years).
 */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:\d{2}))?$/;

/**
 * The epoch milliseconds of `text`, or undefined when it is not such a time.
 * @example parseIsoTime("2026-12-31") // 1798675200000
 * @example parseIsoTime("2027-02-30") // undefined
 */
export function parseIsoTime(text: string): number | undefined {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (h === undefined) return utc(year, month, day, 0, 0, 0, 0);
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offset = 0;
  if (zone !== "Z" && zone !== "z") {
    const oh = Number(zone!.slice(1, 3));
    const om = Number(zone!.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offset = (zone!.startsWith("-") ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  return utc(year, month, day, hour, minute, second, ms) - offset;
}

/** What a user is told when a time cannot be read (the flag or field name in front). */
export const ISO_TIME_HINT = "an ISO 8601 date (2026-12-31) or time (2026-12-31T18:00:00Z)";

/** Date.UTC, except that it reads years 0–99 as themselves, not as 1900–1999. */
function utc(year: number, month: number, day: number, h: number, mi: number, s: number, ms: number): number {
  const d = new Date(Date.UTC(2000, month - 1, day, h, mi, s, ms));
  d.setUTCFullYear(year);
  return d.getTime();
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
