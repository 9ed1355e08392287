/**
 * The fault a client gets when XML parsing fails inside a processing instruction, at a start tag beyond the
 * depth limit, or at the end of the input (decided by the codec itself, not from saxes's state or wording), and
 * that the one shared parser serves the next document after any of them.
 */
import { describe, expect, it } from 'vitest';
import {
  FAULT_PARSE,
  XmlRpcDecodeError,
  decodeMethodCall,
  decodeMethodResponse,
  encodeMethodCall,
} from '#api/xmlrpc/codec';
import { ACCEPTED_CASES, FAULT_CASES } from './codec-fault-cases';

function decodeError(fn: () => unknown): XmlRpcDecodeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(XmlRpcDecodeError);
    return e as XmlRpcDecodeError;
  }
  throw new Error('expected an XmlRpcDecodeError, but decoding succeeded');
}

const VALID = encodeMethodCall('GetInfrastructureState', ['inf-1', [{ type: 'Dummy', id: 'd' }]]);

describe('fault decisions around parse errors (real saxes)', () => {
  it.each(FAULT_CASES.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const e = decodeError(() => decodeMethodCall(c.body, c.opts));
    expect(e.faultCode).toBe(c.faultCode);
    if (c.message) expect(e.message).toMatch(c.message);
    // The same body as a response fails the same way (the decision is about the XML, not the root element).
    const r = decodeError(() => decodeMethodResponse(c.body, c.opts));
    expect(r.faultCode).toBe(c.faultCode);
  });

  it.each(ACCEPTED_CASES.map((c) => [c.name, c] as const))('accepts %s', (_n, c) => {
    const { methodName, params } = decodeMethodCall(c.body);
    expect(methodName).toBe('M');
    expect(params).toEqual(c.params);
  });

  it('the parser serves the next document after every kind of failure', () => {
    for (const c of FAULT_CASES) {
      decodeError(() => decodeMethodCall(c.body, c.opts));
      expect(decodeMethodCall(VALID)).toEqual({
        methodName: 'GetInfrastructureState',
        params: ['inf-1', [{ type: 'Dummy', id: 'd' }]],
      });
    }
  });

  it('a failure in one document never leaks into the next (open elements, depth, text)', () => {
    // Half a document, then a document that would be wrong if the first one's open elements were kept.
    decodeError(() => decodeMethodCall('<methodCall><methodName>M</methodName><params><param><value><string>abc'));
    expect(decodeMethodCall('<methodCall><methodName>N</methodName></methodCall>')).toEqual({ methodName: 'N', params: [] });
    decodeError(() => decodeMethodCall('<methodCall><?pi'));
    expect(decodeMethodCall('<methodCall><methodName>O</methodName></methodCall>')).toEqual({ methodName: 'O', params: [] });
  });

  it('saxes descriptions of other errors are kept, bounded, without a trailing period', () => {
    const e = decodeError(() => decodeMethodCall('<methodCall a=1><methodName>M</methodName></methodCall>'));
    expect(e.faultCode).toBe(FAULT_PARSE);
    expect(e.message).toMatch(/^not well formed: [^.]{1,101} \(at offset 15\)$/);
  });

  it('error-path scanning stays linear on big bodies', () => {
    const big = [
      `<methodCall>${'<a b=">"/>'.repeat(60_000)}<?x`,
      `<methodCall>${'<!-- <? -->'.repeat(60_000)}<1`,
      `<methodCall>${'<a>'.repeat(60) + 'x'.repeat(500_000)}<?`,
    ];
    for (const body of big) {
      const started = Date.now();
      expect(decodeError(() => decodeMethodCall(body)).faultCode).toBeLessThan(0);
      expect(Date.now() - started).toBeLessThan(3000);
    }
  });
});
