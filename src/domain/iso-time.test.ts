import { test } from "node:test";
import assert from "node:assert/strict";
import { parseIsoTime } from "./iso-time.js";

test("reads ISO 8601 dates and times with an offset", () => {
  assert.equal(parseIsoTime("2026-12-31"), Date.UTC(2026, 11, 31));
  assert.equal(parseIsoTime("2028-02-29"), Date.UTC(2028, 1, 29), "a leap day");
  assert.equal(parseIsoTime("2000-02-29"), Date.UTC(2000, 1, 29), "400 years: leap");
  assert.equal(parseIsoTime("2026-11-01T00:00:00Z"), Date.UTC(2026, 10, 1));
  assert.equal(parseIsoTime("2026-11-01T10:30Z"), Date.UTC(2026, 10, 1, 10, 30));
  assert.equal(parseIsoTime("2026-11-01 10:30:05.25z"), Date.UTC(2026, 10, 1, 10, 30, 5, 250));
  assert.equal(parseIsoTime("2026-11-01T10:30:05.123456789Z"), Date.UTC(2026, 10, 1, 10, 30, 5, 123));
  assert.equal(parseIsoTime("2026-11-01T02:00:00+02:00"), Date.UTC(2026, 10, 1, 0, 0));
  assert.equal(parseIsoTime("2026-11-01T00:00:00-05:30"), Date.UTC(2026, 10, 1, 5, 30));
  assert.equal(parseIsoTime(" 2026-12-31 "), Date.UTC(2026, 11, 31), "surrounding blanks");
  assert.equal(parseIsoTime("0050-01-01"), Date.parse("0050-01-01T00:00:00Z"), "year 50, not 1950");
  assert.equal(parseIsoTime("0004-02-29"), Date.parse("0004-02-29T00:00:00Z"));
});

test("refuses what Date.parse or RFC 3339 would bend", () => {
  for (const bad of [
    "2027-02-30", // rolled over to March by Date.parse
    "2026-02-29", // not a leap year
    "1900-02-29", // a century: not leap
    "2026-04-31",
    "2026-13-01",
    "2026-00-10",
    "2026-12-00",
    "2026-12-31T23:59:60Z", // a leap second
    "2026-12-31T24:00:00Z",
    "2026-12-31T12:60:00Z",
    "2026-12-31T12:00:00", // no offset: whose local time?
    "2026-12-31T12:00:00+01", // an offset without minutes
    "2026-12-31T12:00:00+24:00",
    "-5",
    "1",
    "2026",
    "2026-12",
    "26-12-31",
    "2026/12/31",
    "31.12.2026",
    "Dec 31 2026",
    "next week",
    "",
    "2026-12-31T12:00:00Z extra",
    "+002026-12-31",
  ])
    assert.equal(parseIsoTime(bad), undefined, bad);
});
