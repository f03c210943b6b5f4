/**
 * Unicode's bidirectional controls (UAX #9: marks, embeddings, overrides, isolates). In text that
 * someone else wrote (a requester's reason, an advisory's summary) they can reorder what is shown:
 * "\u202Eexe.txt" reads as "txt.exe". They are shown as what they are instead.
 */
const BIDI_CONTROL = /([\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069])/;

function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/**
 * Text from outside, isolated from its surroundings (`<bdi>`) and with every bidirectional control
 * replaced by a visible marker (`[U+202E]`), so it can neither reorder itself nor the page.
 */
export function UserText({ text }: { text: string | null | undefined }) {
  if (!text) return null;
  const parts = text.split(BIDI_CONTROL);
  return (
    <bdi>
      {parts.map((part, i) =>
        i % 2 === 1 ? (
          <span key={i} className="bidi-control" title="a bidirectional control character, not shown as such">
            [{codePoint(part)}]
          </span>
        ) : (
          part
        ),
      )}
    </bdi>
  );
}
