/**
 * XML text → a small element tree, with saxes (a strict, spec-conforming, non-validating XML 1.0 SAX parser: it
 * checks well-formedness in one pass). Only saxes's public API is used: the constructor options, `on()` for the
 * events (opentagstart, attribute, closetag, text, cdata, processinginstruction, error), `write()`,
 * `close()` and `position`. Never its internal state, never the wording of its error messages: which fault an
 * error becomes is decided from the text read so far (markup.ts) and from our own bookkeeping.
 *
 * saxes runs without namespaces (`ex:nil` is a plain name, `xmlns:*` ordinary attributes) and always with XML 1.0
 * rules, whatever version the declaration names (1.1 would turn NEL/LS into newlines and allow control characters
 * by reference). It has already expanded the five predefined entities and character references (without a DTD it
 * knows no others) and normalised line endings (XML 1.0 §2.11: a literal CR LF or CR becomes LF, as expat does).
 *
 * One parser serves every document (decoding is synchronous and the handlers never re-enter it): `close()` ends a
 * document and makes it ready for the next. After an error a half-read document is never resumed: the parser is
 * dropped and a new one built (saxes documents no reset, `_init` being internal, and its README says not to rely
 * on a parser after an error).
 */

import { SaxesParser, type SaxesAttributePlain, type SaxesStartTagPlain } from 'saxes';
import {
  nestedTooDeeply,
  notWellFormed,
  processingInstruction,
  unexpectedEnd,
  XmlRpcDecodeError,
} from '#api/xmlrpc/codec/faults';
import { BMP_NAME_RE, lastMarkupBefore, nameRunsToEnd } from '#api/xmlrpc/codec/markup';

export interface XmlElement {
  name: string;
  /** Text children are strings; adjacent text (incl. CDATA and references, across comments) is merged. */
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

/** What to parse: `text`, preceded in the body by `skipped` characters (an XML declaration already checked). */
export interface ParseInput {
  text: string;
  skipped: number;
}

const OPTIONS = { position: false, forceXMLVersion: true, defaultXMLVersion: '1.0' } as const;

// State of the document being parsed, used by the event handlers below (module-level functions, so that parsing a
// document creates no closures).
const openElements: XmlElement[] = [];
let rootElement: XmlElement | undefined;
let elementDepthLimit = 0;
let bmpNamesOnly = false;
/** The text given to saxes (read by the error handler). */
let currentText = '';
/** Offset in the body of what saxes was given (it is not given an XML declaration that was already checked). */
let positionBase = 0;
/** Set while `close()` runs: what saxes reports then is about input that ended early. */
let closing = false;

/**
 * The events listened to. saxes stores each handler as a property added to the parser after construction, and V8
 * turns an object with that many added properties into a slow dictionary: with an eighth handler, decoding took
 * four times as long (measured on saxes 6 / Node 20). So there are seven, and no `doctype` handler: every
 * `<!DOCTYPE` is refused before parsing (decode.ts), and without a DTD saxes expands no entity anyway.
 */
function createParser(): SaxesParser<typeof OPTIONS> {
  const p = new SaxesParser(OPTIONS);
  p.on('opentagstart', onOpenTagStart);
  p.on('attribute', onAttribute);
  p.on('closetag', onCloseTag);
  p.on('text', onText);
  p.on('cdata', onText);
  p.on('processinginstruction', onProcessingInstruction);
  // saxes's own error handler throws a plain Error; ours throws the fault instead, at the first error.
  p.on('error', onError);
  return p;
}

let parser = createParser();

/** The current offset in the body (for error messages). */
function offsetNow(): number {
  return positionBase + parser.position;
}

/** A start tag whose name has been read: the depth limit applies as soon as an element starts (before attributes). */
function onOpenTagStart(tag: SaxesStartTagPlain): void {
  const open = openElements;
  if (open.length >= elementDepthLimit) throw nestedTooDeeply(offsetNow());
  if (bmpNamesOnly && !BMP_NAME_RE.test(tag.name)) throw notWellFormed('invalid name', offsetNow());
  const el: XmlElement = { name: tag.name, children: [] };
  if (open.length === 0) rootElement = el;
  else open[open.length - 1].children.push(el);
  open.push(el);
}

/** Attributes are checked by saxes and then discarded (XML-RPC defines none; `xmlns:ex` & co. are tolerated). */
function onAttribute(attr: SaxesAttributePlain): void {
  if (bmpNamesOnly && !BMP_NAME_RE.test(attr.name)) throw notWellFormed('invalid name', offsetNow());
}

function onCloseTag(): void {
  openElements.pop();
}

/** Text and CDATA sections. */
function onText(text: string): void {
  const open = openElements;
  // Outside the root element only whitespace reaches here (saxes rejects anything else); it is not content.
  if (open.length === 0 || text === '') return;
  const children = open[open.length - 1].children;
  const last = children.length - 1;
  if (last >= 0 && typeof children[last] === 'string') children[last] = (children[last] as string) + text;
  else children.push(text);
}

function onProcessingInstruction(): void {
  throw processingInstruction(offsetNow());
}

function onError(err: Error): void {
  throw closing ? endOfInputFault() : wellFormednessFault(err.message);
}

/**
 * A well-formedness error that saxes reported while reading, at `parser.position`:
 *   - inside a `<?` that is not the XML declaration at the start of the document (a misplaced declaration, a
 *     malformed target): refused as a processing instruction, as a complete one is. saxes reports such errors no
 *     sooner than the character after `<?`; one reported at the `<` itself (text outside the root element) is not
 *     about the instruction;
 *   - at a `<` followed by a character that cannot start a name, where no element may start anyway: too deep
 *     comes first, as it does for a start tag;
 *   - anything else: not well formed, with saxes's description (it names at most markup, never content; it is
 *     bounded anyway).
 */
function wellFormednessFault(message: string): XmlRpcDecodeError {
  const at = parser.position;
  const markup = lastMarkupBefore(currentText, at);
  if (markup?.kind === 'processing-instruction' && at >= markup.start + 3) {
    return processingInstruction(positionBase + at);
  }
  if (markup?.kind === 'not-a-name' && at >= markup.start + 2 && openElements.length >= elementDepthLimit) {
    return nestedTooDeeply(positionBase + at);
  }
  const text = message.endsWith('.') ? message.slice(0, -1) : message;
  return notWellFormed(text.length > 100 ? `${text.slice(0, 100)}…` : text, positionBase + at);
}

/**
 * An error that saxes reported once the input was exhausted: input that ended early. Inside a processing
 * instruction (`<?target …` without `?>`): refused as a processing instruction, as a complete one is (a text that is
 * just `<?xml` is the start of an XML declaration). Inside the name of a start tag too deep to be allowed: too deep.
 * Anything else (no root element, unclosed elements, an unfinished construct): a truncated document.
 */
function endOfInputFault(): XmlRpcDecodeError {
  const text = currentText;
  const end = positionBase + text.length;
  const markup = lastMarkupBefore(text, text.length);
  if (markup?.kind === 'processing-instruction') return processingInstruction(end);
  if (
    markup?.kind === 'start-tag' &&
    openElements.length >= elementDepthLimit &&
    nameRunsToEnd(text, markup.start)
  ) {
    return nestedTooDeeply(end);
  }
  return unexpectedEnd(end);
}

/**
 * Parses a whole document and returns its root element. `depthLimit` bounds element nesting; with `astral` (the
 * text has characters beyond the BMP) element and attribute names are held to BMP name characters, like expat.
 * Throws XmlRpcDecodeError for bad input; anything else it throws is a bug.
 */
export function parseDocument(input: ParseInput, depthLimit: number, astral: boolean): XmlElement {
  const text = input.text;
  openElements.length = 0;
  rootElement = undefined;
  elementDepthLimit = depthLimit;
  bmpNamesOnly = astral;
  currentText = text;
  positionBase = input.skipped;
  closing = false;
  try {
    parser.write(text);
    closing = true;
    parser.close();
    const root = rootElement;
    // Unreachable: close() fails on a document without a root element.
    if (root === undefined) throw unexpectedEnd(positionBase + text.length);
    return root;
  } catch (e) {
    parser = createParser(); // the half-read document is discarded with its parser
    throw e;
  } finally {
    openElements.length = 0;
    rootElement = undefined;
    currentText = '';
    closing = false;
  }
}
