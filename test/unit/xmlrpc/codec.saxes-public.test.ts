/**
 * The codec uses saxes through its public API only. Here saxes is replaced by a guarded SaxesParser:
 *   - reading, probing or writing any member that saxes's README and typings do not document as public (its
 *     state number, `_init()`, internal fields…) throws and is recorded;
 *   - every error saxes reports reaches the codec with a reworded message, so a fault decided by matching saxes's
 *     wording would come out differently.
 * The codec must still give every fault of codec-fault-cases.ts, decode valid documents, and touch nothing private.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';

const guard = vi.hoisted(() => ({
  violations: [] as string[],
  created: 0,
  used: new Set<string>(),
  events: new Set<string>(),
  reworded: 0,
}));

vi.mock('saxes', async (importOriginal) => {
  const real = await importOriginal<typeof import('saxes')>();
  // The public members of SaxesParser 6 (README "Methods"/"Properties", and the public members of saxes.d.ts
  // except the undocumented `_init`).
  const PUBLIC = new Set([
    'on', 'off', 'write', 'close', 'fail', 'makeError', 'resolve',
    'position', 'line', 'column', 'columnIndex', 'closed', 'opt', 'xmlDecl', 'ENTITIES',
  ]);
  const check = (key: string | symbol, what: string): void => {
    if (typeof key !== 'string') return;
    if (!PUBLIC.has(key)) {
      guard.violations.push(`${what} ${key}`);
      throw new Error(`non-public saxes member used: ${what} ${key}`);
    }
    guard.used.add(key);
  };
  class GuardedSaxesParser {
    constructor(opt?: ConstructorParameters<typeof real.SaxesParser>[0]) {
      const target = new real.SaxesParser(opt);
      guard.created++;
      return new Proxy(target, {
        get(t, key) {
          check(key, 'read');
          if (key === 'on') {
            return (name: string, handler: (arg: unknown) => void) => {
              guard.events.add(name);
              t.on(
                name as 'error',
                name === 'error'
                  ? (err: Error) => {
                      guard.reworded++;
                      handler(new Error(err.message === "" ? "saxes said nothing" : "saxes said something"));
                    }
                  : (handler as never),
              );
            };
          }
          if (key === 'write') {
            return (chunk: string | null) => {
              // A bug inside the parser (not bad input) must come out as an internal fault.
              if (typeof chunk === 'string' && chunk.includes('SIMULATED-SAXES-BUG')) throw new TypeError('boom');
              return t.write(chunk);
            };
          }
          const v = Reflect.get(t, key, t) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
        has(t, key) {
          check(key, 'probe');
          return Reflect.has(t, key);
        },
        set(_t, key) {
          check(key, 'write');
          throw new Error(`the codec must not set saxes members (${String(key)})`);
        },
        getOwnPropertyDescriptor(t, key) {
          check(key, 'describe');
          return Reflect.getOwnPropertyDescriptor(t, key);
        },
        ownKeys() {
          guard.violations.push('enumerate');
          throw new Error('the codec must not enumerate saxes members');
        },
      });
    }
  }
  return { ...real, SaxesParser: GuardedSaxesParser };
});

import { SaxesParser } from 'saxes';
import {
  FAULT_INTERNAL,
  FAULT_INVALID_REQUEST,
  FAULT_PARSE,
  XmlRpcDecodeError,
  decodeMethodCall,
  decodeMethodResponse,
  encodeFault,
  encodeMethodCall,
  encodeMethodResponse,
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

describe('the guard itself', () => {
  it('throws on private members and rewords errors', () => {
    const p = new SaxesParser() as unknown as Record<string, unknown>;
    expect(() => p.state).toThrow(/non-public/);
    expect(() => p._init).toThrow(/non-public/);
    expect(() => 'tags' in p).toThrow(/non-public/);
    const errors: string[] = [];
    (p as unknown as SaxesParser).on('error', (e) => errors.push(e.message));
    (p as unknown as SaxesParser).write('<a><?').close();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((m) => m.startsWith('saxes said something'))).toBe(true);
    // these were the guard's own checks, not the codec's
    expect(guard.violations).toEqual(['read state', 'read _init', 'probe tags']);
    guard.violations.length = 0;
  });
});

describe('codec on a saxes whose private members are out of reach', () => {
  afterAll(() => {
    // Over every test of this file: nothing private was touched, and the guard was really in the way.
    expect(guard.violations).toEqual([]);
    expect(guard.created).toBeGreaterThan(FAULT_CASES.length);
    expect(guard.reworded).toBeGreaterThan(0);
    expect([...guard.used]).toEqual(expect.arrayContaining(['on', 'write', 'close', 'position']));
  });

  it.each(FAULT_CASES.map((c) => [c.name, c] as const))('%s', (_n, c) => {
    const e = decodeError(() => decodeMethodCall(c.body, c.opts));
    expect(e.faultCode).toBe(c.faultCode);
    if (c.message) expect(e.message).toMatch(c.message);
    expect(guard.violations).toEqual([]);
  });

  it.each(ACCEPTED_CASES.map((c) => [c.name, c] as const))('accepts %s', (_n, c) => {
    expect(decodeMethodCall(c.body).params).toEqual(c.params);
  });

  it('round-trips calls, responses and faults', () => {
    const params = ['inf-1', [{ type: 'InfrastructureManager', username: 'u', password: 'p' }], 42, 2n ** 60n, null];
    expect(decodeMethodCall(encodeMethodCall('AddResource', params))).toEqual({ methodName: 'AddResource', params });
    expect(decodeMethodResponse(encodeMethodResponse([true, 'x']))).toEqual({ value: [true, 'x'] });
    expect(decodeMethodResponse(encodeFault(-32601, 'no such method'))).toEqual({
      fault: { faultCode: -32601, faultString: 'no such method' },
    });
  });

  it('errors whose wording saxes owns are still not well formed, with the position', () => {
    const e = decodeError(() => decodeMethodCall('<methodCall a=1><methodName>M</methodName></methodCall>'));
    expect(e.faultCode).toBe(FAULT_PARSE);
    expect(e.message).toBe('not well formed: saxes said something (at offset 15)');
  });

  it('processing instructions are refused whatever saxes calls them', () => {
    for (const body of ['<methodCall><? x?>', '<methodCall><?1?>', ' <?xml version="1.0"?><methodCall/>']) {
      expect(decodeError(() => decodeMethodCall(body)).faultCode).toBe(FAULT_INVALID_REQUEST);
    }
  });

  it('listens to seven events at most (an eighth handler makes V8 store the parser as a slow dictionary)', () => {
    decodeMethodCall('<methodCall><methodName>M</methodName></methodCall>');
    expect([...guard.events].sort()).toEqual(
      ['attribute', 'cdata', 'closetag', 'error', 'opentagstart', 'processinginstruction', 'text'],
    );
  });

  it('a bug inside the parser is an internal fault, and the next document decodes', () => {
    const e = decodeError(() => decodeMethodCall('<methodCall><methodName>SIMULATED-SAXES-BUG</methodName></methodCall>'));
    expect(e.faultCode).toBe(FAULT_INTERNAL);
    expect(e.message).toBe('internal error while decoding XML-RPC');
    expect(e.cause).toBeInstanceOf(TypeError);
    expect(decodeMethodCall('<methodCall><methodName>M</methodName></methodCall>')).toEqual({ methodName: 'M', params: [] });
  });
});
