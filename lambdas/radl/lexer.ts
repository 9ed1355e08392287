/**
 * Hand-written RADL lexer (charCodeAt scanning, table-driven ASCII classes, no per-character regex).
 * Unknown characters are errors with line and column (the reference lexer silently skipped them).
 */
import { RadlError } from './errors.ts';
import { KEYWORDS } from './format.ts';

export const T_EOF = 0;
export const T_ID = 1;
export const T_KW = 2;
export const T_NUM = 3;
export const T_STR = 4;
export const T_RECIPE = 5;
export const T_LPAREN = 6;
export const T_RPAREN = 7;
export const T_LBRACK = 8;
export const T_RBRACK = 9;
export const T_COMMA = 10;
export const T_CMP = 11;

export interface Token {
  type: number;
  /** Identifier/keyword text, string value, recipe text, comparator, or the number's source text. */
  text: string;
  /** Numeric value for T_NUM. */
  num: number;
  line: number;
  col: number;
}

// ASCII character classes.
const C_OTHER = 0;
const C_WS = 1;
const C_NL = 2;
const C_IDSTART = 3; // letters, '_', '.'
const C_DIGIT = 4;
const C_DASH = 5; // identifier continuation only
const C_PUNCT = 6;

const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  let k = C_OTHER;
  if (c === 32 || c === 9 || c === 13) k = C_WS;
  else if (c === 10) k = C_NL;
  else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46) k = C_IDSTART;
  else if (c >= 48 && c <= 57) k = C_DIGIT;
  else if (c === 45) k = C_DASH;
  else if (c === 40 || c === 41 || c === 91 || c === 93 || c === 44 || c === 61 || c === 60 || c === 62) k = C_PUNCT;
  CLASS[c] = k;
}

const UNI_START = /[\p{L}]/u;
const UNI_CONT = /[\p{L}\p{N}\p{M}]/u;

function isIdCont(code: number, ch: string): boolean {
  if (code < 128) {
    const k = CLASS[code];
    return k === C_IDSTART || k === C_DIGIT || k === C_DASH;
  }
  return UNI_CONT.test(ch);
}

function charName(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  if (code < 32 || code === 127) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `'${ch}'`;
}

const HINTS: Record<string, string> = {
  '"': "strings use single quotes, e.g. 'value'",
  '-': "numbers have no sign; write text values as strings, e.g. 'a-b'",
  '!': "there is no '!=' operator; comparators are =, <, >, <= and >=",
  '@': "recipes start with '@begin' and end with '@end' at column 0; '@input.NAME@' placeholders must be replaced by the client",
  '{': 'RADL text uses ( ) around features; RADL-JSON documents must start with [ or {',
  '}': 'RADL text uses ( ) around features',
  ';': "features are separated with 'and'",
  '&': "features are separated with 'and'",
  '+': 'numbers have no sign',
};

export class Lexer {
  readonly src: string;
  private pos = 0;
  private line = 1;
  private lineStart = 0;

  constructor(src: string) {
    this.src = src;
    // A leading byte-order mark is not part of the document.
    if (src.charCodeAt(0) === 0xfeff) {
      this.pos = 1;
      this.lineStart = 1;
    }
  }

  private err(reason: string, line: number, col: number): RadlError {
    return RadlError.at(reason, line, col);
  }

  /** Scan the next token. */
  next(): Token {
    const src = this.src;
    const n = src.length;
    let pos = this.pos;
    // Skip whitespace and comments.
    for (;;) {
      if (pos >= n) {
        this.pos = pos;
        return { type: T_EOF, text: '', num: 0, line: this.line, col: pos - this.lineStart + 1 };
      }
      const c = src.charCodeAt(pos);
      if (c === 10) {
        pos++;
        this.line++;
        this.lineStart = pos;
      } else if (c === 32 || c === 9 || c === 13) {
        pos++;
      } else if (c === 35) {
        const nl = src.indexOf('\n', pos);
        pos = nl < 0 ? n : nl;
      } else {
        break;
      }
    }
    const line = this.line;
    const col = pos - this.lineStart + 1;
    const c = src.charCodeAt(pos);
    const k = c < 128 ? CLASS[c] : UNI_START.test(String.fromCodePoint(src.codePointAt(pos)!)) ? C_IDSTART : C_OTHER;

    if (k === C_IDSTART) {
      const start = pos;
      pos++;
      while (pos < n) {
        const d = src.charCodeAt(pos);
        if (d < 128) {
          const dk = CLASS[d];
          if (dk !== C_IDSTART && dk !== C_DIGIT && dk !== C_DASH) break;
          pos++;
        } else {
          const cp = src.codePointAt(pos)!;
          const ch = String.fromCodePoint(cp);
          if (!isIdCont(cp, ch)) break;
          pos += ch.length;
        }
      }
      this.pos = pos;
      const text = src.slice(start, pos);
      return { type: KEYWORDS.has(text) ? T_KW : T_ID, text, num: 0, line, col };
    }

    if (k === C_DIGIT) {
      const start = pos;
      pos++;
      while (pos < n && src.charCodeAt(pos) >= 48 && src.charCodeAt(pos) <= 57) pos++;
      if (pos < n && src.charCodeAt(pos) === 46) {
        pos++;
        while (pos < n && src.charCodeAt(pos) >= 48 && src.charCodeAt(pos) <= 57) pos++;
      }
      this.pos = pos;
      const text = src.slice(start, pos);
      const num = Number(text);
      if (!Number.isFinite(num)) throw this.err(`number too large: ${text.slice(0, 20)}…`, line, col);
      return { type: T_NUM, text, num, line, col };
    }

    if (k === C_PUNCT) {
      pos++;
      let type: number;
      let text: string;
      switch (c) {
        case 40:
          type = T_LPAREN;
          text = '(';
          break;
        case 41:
          type = T_RPAREN;
          text = ')';
          break;
        case 91:
          type = T_LBRACK;
          text = '[';
          break;
        case 93:
          type = T_RBRACK;
          text = ']';
          break;
        case 44:
          type = T_COMMA;
          text = ',';
          break;
        case 61:
          type = T_CMP;
          text = '=';
          break;
        default: // < or >
          type = T_CMP;
          if (pos < n && src.charCodeAt(pos) === 61) {
            pos++;
            text = c === 60 ? '<=' : '>=';
          } else {
            text = c === 60 ? '<' : '>';
          }
      }
      this.pos = pos;
      return { type, text, num: 0, line, col };
    }

    if (c === 39) return this.string(pos, line, col);

    if (c === 64 && src.startsWith('@begin', pos)) return this.recipe(pos + 6, line, col);

    // Anything else is an error (the reference skipped it silently).
    const cp = src.codePointAt(pos)!;
    const ch = String.fromCodePoint(cp);
    const hint = HINTS[ch];
    throw this.err(`unexpected character ${charName(ch)}${hint ? ` (${hint})` : ''}`, line, col);
  }

  /** Single-quoted string; `\'` is a quote, any other backslash pair is kept verbatim. May span lines. */
  private string(quotePos: number, line: number, col: number): Token {
    const src = this.src;
    const n = src.length;
    let pos = quotePos + 1;
    let chunkStart = pos;
    let value = '';
    for (;;) {
      if (pos >= n) throw this.err('unterminated string (missing closing quote)', line, col);
      const c = src.charCodeAt(pos);
      if (c === 39) break;
      if (c === 92) {
        if (pos + 1 >= n) {
          pos++;
          continue;
        }
        const d = src.charCodeAt(pos + 1);
        if (d === 39) {
          value += src.slice(chunkStart, pos) + "'";
          pos += 2;
          chunkStart = pos;
          continue;
        }
        if (d === 10) {
          this.line++;
          this.lineStart = pos + 2;
        }
        pos += 2;
        continue;
      }
      if (c === 10) {
        this.line++;
        this.lineStart = pos + 1;
      }
      pos++;
    }
    value += src.slice(chunkStart, pos);
    this.pos = pos + 1;
    return { type: T_STR, text: value, num: 0, line, col };
  }

  /** Raw text after `@begin` up to the next line that starts with `@end`. */
  private recipe(start: number, line: number, col: number): Token {
    const src = this.src;
    const end = src.indexOf('\n@end', start);
    if (end < 0) {
      throw this.err("unterminated recipe: '@begin' without a matching '@end' at the start of a line", line, col);
    }
    const text = src.slice(start, end + 1);
    let nl = text.indexOf('\n');
    while (nl >= 0) {
      this.line++;
      nl = text.indexOf('\n', nl + 1);
    }
    this.lineStart = end + 1;
    this.pos = end + 5;
    return { type: T_RECIPE, text, num: 0, line, col };
  }
}

/** Describe a token for error messages. */
/** The kind of a token, without its text (next to a secret). */
export function describeTokenKind(t: Token): string {
  switch (t.type) {
    case T_EOF:
      return 'end of input';
    case T_ID:
      return 'an identifier';
    case T_KW:
      return 'a keyword';
    case T_NUM:
      return 'a number';
    case T_STR:
      return 'a string';
    case T_RECIPE:
      return 'a recipe block';
    default:
      return 'a symbol';
  }
}

export function describeToken(t: Token): string {
  switch (t.type) {
    case T_EOF:
      return 'end of input';
    case T_ID:
      return `identifier '${t.text}'`;
    case T_KW:
      return `keyword '${t.text}'`;
    case T_NUM:
      return `number ${t.text}`;
    case T_STR:
      return `string '${t.text.length > 30 ? t.text.slice(0, 30) + '…' : t.text}'`;
    case T_RECIPE:
      return "recipe block '@begin … @end'";
    default:
      return `'${t.text}'`;
  }
}
