import { test } from "node:test";
import assert from "node:assert/strict";
import {
  escapeControlCharacters,
  escapeControlCharactersExceptLineFeeds,
  hasControlCharacters,
  inert,
} from "./control-characters.js";

const RAW =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]/;

test("C0, DEL, C1, bidi controls and line separators count as control characters", () => {
  for (const c of ["\u001b", "\r", "\n", "\t", "\u0000", "\u007f", "\u009b", "\u0085"])
    assert.equal(hasControlCharacters(`a${c}b`), true, JSON.stringify(c));
  // Trojan Source: overrides, embeddings, isolates and marks reorder what a terminal shows.
  for (const c of ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c", "\u2028", "\u2029"])
    assert.equal(hasControlCharacters(`a${c}b`), true, `U+${c.charCodeAt(0).toString(16)}`);
  // Invisible characters that hide text inside a name or reason.
  for (const c of ["\u200b", "\ufeff", "\u2060", "\u180e"])
    assert.equal(hasControlCharacters(`a${c}b`), true, `U+${c.charCodeAt(0).toString(16)}`);
  // Joiners stay: scripts and emoji sequences need them.
  for (const ok of [
    "data-équipe",
    "pip 25.0",
    "日本語",
    "a\u00a0b",
    "emoji 🎉",
    "👩\u200d💻",
    "می\u200cخواهم",
  ])
    assert.equal(hasControlCharacters(ok), false, ok);
});

test("escapes each control character as \\uXXXX, leaving other text alone", () => {
  assert.equal(escapeControlCharacters("a\u001b[2J\r\n\tb"), "a\\u001b[2J\\u000d\\u000a\\u0009b");
  assert.equal(escapeControlCharacters("x\u202ey\u009b"), "x\\u202ey\\u009b");
  assert.equal(escapeControlCharacters("data-équipe 🎉"), "data-équipe 🎉");
  const once = escapeControlCharacters("\u001b\u202e");
  assert.equal(escapeControlCharacters(once), once, "escaping is idempotent");
});

test("escapeControlCharactersExceptLineFeeds keeps the formatter's line feeds only", () => {
  const text = "line one\r\u001b[2K forged\nline two\t\u009b\u202e";
  const out = escapeControlCharactersExceptLineFeeds(text);
  assert.equal(out, "line one\\u000d\\u001b[2K forged\nline two\\u0009\\u009b\\u202e");
  assert.doesNotMatch(out.replace(/\n/g, ""), RAW);
});

test("inert escapes the interpolated values, never the template's own tabs and line breaks", () => {
  const label = "\r  svc-backup (team security)\u001b[K";
  const out = inert`${1}\t${label}\t${null}\n`;
  assert.equal(out, "1\t\\u000d  svc-backup (team security)\\u001b[K\tnull\n");
  // A nested template's text is a value of the outer one: escaped as a whole.
  const team: string | null = "a\nb";
  assert.equal(inert`x${team ? ` (team ${team})` : ""}\n`, "x (team a\\u000ab)\n");
  assert.equal(inert`plain`, "plain");
});
