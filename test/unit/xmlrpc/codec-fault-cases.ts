/**
 * The decoder's fault decisions that depend on where XML parsing failed (inside a processing instruction, at a
 * start tag beyond the depth limit, at the end of the input). Shared by codec.faults.test.ts (real saxes) and
 * codec.saxes-public.test.ts (a saxes whose private members cannot be read and whose error messages are reworded),
 * so that both prove the same user-visible faults.
 */
import {
  FAULT_INVALID_REQUEST,
  FAULT_PARSE,
  type DecodeOptions,
} from '#api/xmlrpc/codec';

export interface FaultCase {
  name: string;
  body: string | Uint8Array;
  opts?: DecodeOptions;
  faultCode: number;
  /** Our own wording (never saxes's): what the message must say. */
  message?: RegExp;
}

const PI = /^processing instructions are not allowed \(at offset \d+\)$/;
const DEEP = /^document nested too deeply \(at offset \d+\)$/;
const END = /^not well formed: unexpected end of document \(at offset \d+\)$/;
const NOT_WELL_FORMED = /^not well formed: .+ \(at offset \d+\)$/;

const CALL = '<methodCall><methodName>M</methodName></methodCall>';
const inCall = (xml: string): string => `<methodCall>${xml}<methodName>M</methodName></methodCall>`;
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** With maxDepth 0 the element limit is 6; these prefixes leave 5 and 6 elements open. */
const FIVE_OPEN = '<methodCall><methodName>M</methodName><params><param><value><array>';
const SIX_OPEN = `${FIVE_OPEN}<data>`;
const SHALLOW: DecodeOptions = { maxDepth: 0 };

export const FAULT_CASES: FaultCase[] = [
  // processing instructions, complete or not, wherever saxes notices them
  { name: 'bare <?', body: '<?', faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'unterminated PI target at the start', body: '<?xm', faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'PI named xml-something at the start', body: `<?xmlfoo?>${CALL}`, faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'upper-case XML declaration', body: `<?XML version="1.0"?>${CALL}`, faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: '<?xml> (bad character after the target)', body: `<?xml>${CALL}`, faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'PI without a target', body: inCall('<? x?>'), faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'PI that is only <??>', body: inCall('<??>'), faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'PI target starting with a digit', body: inCall('<?1x?>'), faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'unterminated PI in content', body: '<methodCall><?x y', faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'unterminated misplaced declaration', body: '<methodCall><?xml ', faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'PI after an attribute value holding >', body: `<methodCall a=">"><?x?><methodName>M</methodName></methodCall>`, faultCode: FAULT_INVALID_REQUEST, message: PI },
  {
    name: 'PI after a checked and skipped declaration (bytes)',
    body: bytes(`<?xml version="1.0"?> <?x?>${CALL}`),
    faultCode: FAULT_INVALID_REQUEST,
    message: /^processing instructions are not allowed \(at offset 27\)$/,
  },
  {
    name: 'misplaced declaration after a skipped one (bytes)',
    body: bytes('<?xml version="1.0"?> <methodCall><?xml '),
    faultCode: FAULT_INVALID_REQUEST,
    message: PI,
  },
  // what comes first is reported first
  { name: 'text before the root, then a PI', body: `junk<?x?>${CALL}`, faultCode: FAULT_PARSE, message: NOT_WELL_FORMED },
  { name: 'text after the root, then a PI', body: `${CALL}junk<?x?>`, faultCode: FAULT_PARSE, message: NOT_WELL_FORMED },
  // the start of an XML declaration is not a processing instruction
  { name: 'body that is just <?xml', body: '<?xml', faultCode: FAULT_PARSE, message: END },
  { name: 'body that is just BOM + <?xml', body: '\uFEFF<?xml', faultCode: FAULT_PARSE, message: END },
  { name: 'cut-off declaration', body: '<?xml version="1.0"', faultCode: FAULT_PARSE, message: END },
  { name: 'declaration without a version', body: `<?xml?>${CALL}`, faultCode: FAULT_PARSE, message: NOT_WELL_FORMED },
  // the depth limit, as soon as a start tag begins
  { name: '< then a digit beyond the limit', body: `${SIX_OPEN}<1/>`, opts: SHALLOW, faultCode: FAULT_INVALID_REQUEST, message: DEEP },
  { name: '< then a line break beyond the limit', body: `${SIX_OPEN}<\r\n`, opts: SHALLOW, faultCode: FAULT_INVALID_REQUEST, message: DEEP },
  { name: 'cut in a tag name beyond the limit', body: `${SIX_OPEN}<da`, opts: SHALLOW, faultCode: FAULT_INVALID_REQUEST, message: DEEP },
  { name: 'cut in an astral tag name beyond the limit', body: `${SIX_OPEN}<\u{10000}x`, opts: SHALLOW, faultCode: FAULT_INVALID_REQUEST, message: DEEP },
  { name: 'a complete start tag beyond the limit', body: `${SIX_OPEN}<value>`, opts: SHALLOW, faultCode: FAULT_INVALID_REQUEST, message: DEEP },
  { name: 'a PI beyond the limit is a PI', body: `${SIX_OPEN}<?x`, opts: SHALLOW, faultCode: FAULT_INVALID_REQUEST, message: PI },
  { name: 'cut right after < beyond the limit', body: `${SIX_OPEN}<`, opts: SHALLOW, faultCode: FAULT_PARSE, message: END },
  { name: 'cut in an end tag beyond the limit', body: `${SIX_OPEN}</x`, opts: SHALLOW, faultCode: FAULT_PARSE, message: END },
  { name: 'cut in a comment beyond the limit', body: `${SIX_OPEN}<!-- <?x`, opts: SHALLOW, faultCode: FAULT_PARSE, message: END },
  { name: 'bad attribute of the last allowed element', body: `${FIVE_OPEN}<data a=1`, opts: SHALLOW, faultCode: FAULT_PARSE, message: NOT_WELL_FORMED },
  { name: 'cut in the name of the last allowed element', body: `${FIVE_OPEN}<data`, opts: SHALLOW, faultCode: FAULT_PARSE, message: END },
  { name: 'bad tag start below the limit', body: `${FIVE_OPEN}<data/><1`, opts: SHALLOW, faultCode: FAULT_PARSE, message: NOT_WELL_FORMED },
  // the end of the input
  { name: 'cut in content', body: '<methodCall><methodName>M', faultCode: FAULT_PARSE, message: /^not well formed: unexpected end of document \(at offset 25\)$/ },
  { name: 'cut in an attribute value', body: '<methodCall a="x', faultCode: FAULT_PARSE, message: END },
  { name: 'cut in a CDATA section holding <?', body: '<methodCall><![CDATA[<?x', faultCode: FAULT_PARSE, message: END },
  { name: 'empty body', body: '', faultCode: FAULT_PARSE, message: END },
];

/** Documents with PI-like or depth-like text where XML allows it: they decode. */
export const ACCEPTED_CASES: Array<{ name: string; body: string; params: unknown[] }> = [
  {
    name: '<?…?> inside a CDATA section',
    body: '<methodCall><methodName>M</methodName><params><param><value><string><![CDATA[<?x?>]]></string></value></param></params></methodCall>',
    params: ['<?x?>'],
  },
  {
    name: '<?…?> inside a comment, before and inside the root',
    body: '<!-- <?x?> --><methodCall><!-- <?xml version="1.0"?> --><methodName>M</methodName></methodCall>',
    params: [],
  },
  {
    name: '?> and > inside attribute values',
    body: '<methodCall a="?>" b=\'x?\'><methodName>M</methodName></methodCall>',
    params: [],
  },
];
