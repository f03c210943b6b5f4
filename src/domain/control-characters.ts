/**
 * C0 controls (tab and line breaks included), DEL and C1 controls, and the Unicode formatting
 * characters that move text around on a terminal: the bidirectional marks, embeddings, overrides
 * and isolates (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069; "Trojan Source"), the
 * line and paragraph separators (U+2028, U+2029), and the invisible ones that hide text inside
 * a name (U+180E, U+200B zero width space, U+2060 word joiner, U+FEFF). (U+200C/U+200D stay:
 * scripts and emoji need them.) Text from outside that is stored and printed
 * back (labels, reasons, URLs) must hold none: an ANSI escape sequence starts with one and would
 * repaint a terminal, a line break would forge a row of output, an override would show a field
 * backwards.
 */
const CONTROL_CLASS =
  "\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u180e\\u200b\\u200e\\u200f\\u2028-\\u202e\\u2060\\u2066-\\u2069\\ufeff";
const CONTROL = new RegExp(`[${CONTROL_CLASS}]`);
const CONTROL_ALL = new RegExp(`[${CONTROL_CLASS}]`, "g");
const CONTROL_BUT_LINE_FEED = new RegExp(`(?!\\n)[${CONTROL_CLASS}]`, "g");

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

const escapeOne = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** `text` as one inert line: each control character written as a `\uXXXX` escape. */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_ALL, escapeOne);
}

/**
 * Several lines of text made by someone else's formatter (a report, an error message) with each
 * control character but the line feeds escaped: nothing can repaint the terminal or return to
 * the start of a line. A line feed inside one of the values it holds cannot be told from the
 * formatter's own, so values are best escaped one by one (`inert`) where the formatting is ours.
 */
export function escapeControlCharactersExceptLineFeeds(text: string): string {
  return text.replace(CONTROL_BUT_LINE_FEED, escapeOne);
}

/**
 * A template tag for terminal output: every interpolated value is escaped as by
 * `escapeControlCharacters`, the template's own text (its tabs and line breaks) is kept. Escaping
 * is idempotent (an escape holds no control character), so nesting tagged templates is harmless.
 *
 * @example inert`${item.id}\t${item.note}\n` // "4\ton it\u001b[2J\n" prints as 4<TAB>on it\u001b[2J
 */
export function inert(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += escapeControlCharacters(String(values[i])) + strings[i + 1]!;
  return out;
}

/**
 * Why a JSON body's free text cannot be stored: the first of `fields` holding a control character
 * (it would be printed back by the CLI, the dashboard and webhooks), named with its value escaped
 * and cut to 200 characters; undefined when none does. `lineFeeds`: text that may span lines (a
 * request's reason) keeps its line feeds.
 */
export function controlCharacterProblem(
  body: Record<string, unknown>,
  fields: readonly string[],
  opts: { lineFeeds?: boolean } = {},
): string | undefined {
  for (const field of fields) {
    const text = body[field];
    if (typeof text !== "string") continue;
    if (hasControlCharacters(opts.lineFeeds ? text.replaceAll("\n", "") : text))
      return `${field} must not contain control characters (escape sequences, tabs, ${opts.lineFeeds ? "carriage returns" : "line breaks"}), got ${escapeControlCharacters(JSON.stringify(text).slice(0, 200))}`;
  }
  return undefined;
}
