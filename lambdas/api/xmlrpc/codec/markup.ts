/**
 * Our own small reading of XML markup, used on the error path only: when saxes reports an error, the fault we
 * answer depends on what the input was in the middle of (a processing instruction is refused as such, a start tag
 * beyond the depth limit as too deep). That is decided here, from the text, not from saxes's internal state.
 *
 * The scan relies on one fact: saxes stops at the first error, so the text before the point where it failed is
 * well formed as far as it goes, and contains no DTD (refused before parsing). A `<` in it therefore starts markup
 * unless it sits inside a comment, a CDATA section, a processing instruction or a quoted attribute value.
 */

// XML 1.0 (5th ed.) §2.3 name characters. NAME_START/NAME_CHAR are restricted to the BMP, like expat (the Python
// reference) and fast-xml-parser; saxes also accepts the astral-plane range #x10000-#xEFFFF, which the *_ANY
// classes add for reasoning about what saxes read.
const NAME_START =
  ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D' +
  '\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD';
const NAME_MORE = '\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040';
const ASTRAL = '\\u{10000}-\\u{EFFFF}';
// The NameChar ranges include combining marks (U+0300–U+036F); that is intended here.
/* eslint-disable no-misleading-character-class */
/** A whole name of BMP name characters only. */
export const BMP_NAME_RE = new RegExp(`^[${NAME_START}][${NAME_START}${NAME_MORE}]*$`, 'u');
/** One character that may start a name, for saxes (astral plane included). */
const NAME_START_ANY_RE = new RegExp(`^[${NAME_START}${ASTRAL}]`, 'u');
/** Name characters only, to the end (astral plane included). */
const NAME_CHARS_ANY_RE = new RegExp(`^[${NAME_START}${NAME_MORE}${ASTRAL}]*$`, 'u');
/* eslint-enable no-misleading-character-class */

/**
 * What the last markup before a point in the text is:
 *   - `xml-declaration`: `<?xml` followed by whitespace, `?` or the end of the text, at the very start of the
 *     text (after a byte order mark at most): the only place where XML allows it;
 *   - `processing-instruction`: any other `<?`;
 *   - `start-tag`: `<` followed by a character that may start a name;
 *   - `not-a-name`: `<` followed by a character that can neither start a name nor other markup (`/`, `!`, `?`);
 *   - `other`: an end tag, a comment, a CDATA section, another `<!`, or a `<` at the very end of the text.
 */
export type MarkupKind = 'xml-declaration' | 'processing-instruction' | 'start-tag' | 'not-a-name' | 'other';

export interface Markup {
  kind: MarkupKind;
  /** Offset of its `<`. */
  start: number;
}

/** Offset just past the markup that starts with the `<` at `lt`, or -1 if it does not end in `text`. */
function markupEnd(text: string, lt: number): number {
  const next = text.charCodeAt(lt + 1);
  if (next === 0x21 /* ! */) {
    if (text.startsWith('<!--', lt)) return endAfter(text, '-->', lt + 4);
    if (text.startsWith('<![CDATA[', lt)) return endAfter(text, ']]>', lt + 9);
    return -1; // nothing else well formed starts with `<!` here (declarations were refused before parsing)
  }
  if (next === 0x3f /* ? */) return endAfter(text, '?>', lt + 2);
  if (next === 0x2f /* / */) return endAfter(text, '>', lt + 2);
  // A start tag: up to the first `>` outside a quoted attribute value (`>` is allowed inside one).
  let quote = 0;
  for (let i = lt + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === 0x22 || c === 0x27) quote = c;
    else if (c === 0x3e) return i + 1;
  }
  return -1;
}

function endAfter(text: string, terminator: string, from: number): number {
  const at = text.indexOf(terminator, from);
  return at === -1 ? -1 : at + terminator.length;
}

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function kindAt(text: string, lt: number): MarkupKind {
  if (lt + 1 >= text.length) return 'other';
  const next = text.charCodeAt(lt + 1);
  if (next === 0x3f /* ? */) {
    const atStart = lt === 0 || (lt === 1 && text.charCodeAt(0) === 0xfeff);
    const after = text.charCodeAt(lt + 5); // NaN at the end of the text
    const endsTarget = lt + 5 === text.length || after === 0x3f || isXmlSpace(after);
    const declaration = atStart && text.startsWith('xml', lt + 2) && endsTarget;
    return declaration ? 'xml-declaration' : 'processing-instruction';
  }
  if (next === 0x2f /* / */ || next === 0x21 /* ! */) return 'other';
  return NAME_START_ANY_RE.test(text.slice(lt + 1, lt + 3)) ? 'start-tag' : 'not-a-name';
}

/**
 * The last markup that starts before offset `end` of `text` (undefined if there is none), where `text` up to
 * `end` is what saxes read without error. Linear in `end`; meant for the error path only.
 */
export function lastMarkupBefore(text: string, end: number): Markup | undefined {
  let last = -1;
  for (let from = 0; ; ) {
    const lt = text.indexOf('<', from);
    if (lt === -1 || lt >= end) break;
    last = lt;
    const after = markupEnd(text, lt);
    if (after === -1 || after >= end) break;
    from = after;
  }
  return last === -1 ? undefined : { kind: kindAt(text, last), start: last };
}

/** Whether the start tag whose `<` is at `lt` is still reading its name at the end of `text`. */
export function nameRunsToEnd(text: string, lt: number): boolean {
  return NAME_CHARS_ANY_RE.test(text.slice(lt + 1));
}
