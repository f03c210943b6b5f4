/**
 * C0 controls (tab and line breaks included), DEL and C1 controls. Text from outside that is
 * stored and printed back (labels, reasons, URLs) must hold none: an ANSI escape sequence starts
 * with one and would repaint a terminal, a line break would forge a row of output.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f]/g;

export function hasControlCharacters(text: string): boolean {
  return CONTROL.test(text);
}

/** `text` as one inert line: each control character written as a `\uXXXX` escape. */
export function escapeControlCharacters(text: string): string {
  return text.replace(CONTROL_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
