/**
 * The one error type of the RADL package.
 *
 * - Parse errors (text lexer/parser, feature conflicts found while parsing) carry `line` and `column`
 *   and their message reads `line L, column C: <reason>`.
 * - Validation errors (checkRadl) carry `line` when known and read `Line L: <reason>`.
 * - Errors without a known position (RADL-JSON structure, programmatic misuse) are just `<reason>`.
 *
 * lambdas/core/errors.ts recognises this class by its `name` ('RadlError') and maps it to BAD_REQUEST.
 */
export type RadlErrorKind = 'parse' | 'check' | 'json' | 'model';

export class RadlError extends Error {
  override readonly name = 'RadlError';
  /** 1-based line of the offending text, when known. */
  line?: number;
  /** 1-based column (UTF-16 code units) of the offending text, when known (parse errors). */
  column?: number;
  /** The message without its location prefix. */
  readonly reason: string;
  readonly kind: RadlErrorKind;

  constructor(reason: string, opts: { line?: number; column?: number; kind?: RadlErrorKind } = {}) {
    const kind = opts.kind ?? 'model';
    let message = reason;
    if (opts.line !== undefined) {
      message =
        opts.column !== undefined && kind !== 'check'
          ? `line ${opts.line}, column ${opts.column}: ${reason}`
          : `Line ${opts.line}: ${reason}`;
    }
    super(message);
    this.reason = reason;
    this.kind = kind;
    if (opts.line !== undefined) this.line = opts.line;
    if (opts.column !== undefined) this.column = opts.column;
  }

  /** A parse error at a text position. */
  static at(reason: string, line: number | undefined, column: number | undefined): RadlError {
    return new RadlError(reason, { line, column, kind: 'parse' });
  }

  /** A validation (checkRadl) error, prefixed `Line N: ` when the line is known. */
  static check(reason: string, line?: number): RadlError {
    return new RadlError(reason, { line, kind: 'check' });
  }

  /** A RADL-JSON structure error. */
  static json(reason: string): RadlError {
    return new RadlError(reason, { kind: 'json' });
  }
}
