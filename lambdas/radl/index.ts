/**
 * RADL public API (pure domain code: no AWS imports).
 *
 *   parseRadl(text)        text form → model (no validation)
 *   parseRadlJson(input)   RADL-JSON (string or value) → model (no validation)
 *   parseRadlAny(text)     JSON when the first non-space character is '[' or '{', else text
 *   checkRadl(radl)        validation (throws RadlError)
 *   parseAndCheck(text)    parseRadlAny + checkRadl
 *   radlToText / radlToJson / radlToJsonString
 */
import { checkRadl } from './check.ts';
import { parseRadlJson } from './json.ts';
import type { Radl } from './model.ts';
import { parseRadl } from './parser.ts';

export { RadlError, type RadlErrorKind } from './errors.ts';
export {
  AnsibleHost,
  Configure,
  Contextualize,
  Deploy,
  Description,
  Feature,
  Features,
  Network,
  Radl,
  SoftBlock,
  System,
  replaceNumTemplate,
  systemRadl,
  type Aspect,
  type Comparator,
  type ConflictMode,
  type ContextualizeItem,
  type ContextualizeOption,
  type FeatureValue,
  type Operator,
  type SimpleValue,
} from './model.ts';
export { parseRadl, MAX_NESTING } from './parser.ts';
export { parseRadlJson, radlToJson, radlToJsonString, type RadlJsonItem } from './json.ts';
export { radlToText } from './text.ts';
export { checkRadl, type CheckOptions } from './check.ts';
export { parseOutports, type OutPort, type OutPortProtocol } from './outports.ts';
export {
  KEYWORDS,
  MAX_RANDOM_LENGTH,
  MEMORY_UNITS,
  PERFORMANCE_UNITS,
  compareVersions,
  formatNumber,
  fromBaseUnits,
  isIdentifier,
  isMemoryUnit,
  isQuotable,
  memoryUnitFactor,
  quoteString,
  toBaseUnits,
} from './format.ts';

/** True when the text looks like RADL-JSON (first non-space character is '[' or '{'). */
export function isRadlJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff) continue;
    return c === 91 || c === 123;
  }
  return false;
}

/** Parse RADL-JSON when the first non-space character is '[' or '{', else the text form. No validation. */
export function parseRadlAny(text: string): Radl {
  return isRadlJson(text) ? parseRadlJson(text) : parseRadl(text);
}

/** Parse either form and validate. */
export function parseAndCheck(text: string): Radl {
  const radl = parseRadlAny(text);
  checkRadl(radl);
  return radl;
}
