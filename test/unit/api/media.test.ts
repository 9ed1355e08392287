import { describe, expect, it } from 'vitest';
import { ImError } from '#core/errors';
import { bodyFormat, errorResponse, negotiate, parseMediaTypes, requireJsonBody } from '#api/rest/media';
import { parseFlag } from '#api/rest/context';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as ImError).code + ' ' + (e as ImError).message;
  }
  return undefined;
};

describe('media types', () => {
  it('drops parameters, ignores q-values, normalises YAML', () => {
    expect(parseMediaTypes('application/json; q=0.1, text/x-yaml;charset=utf8, APPLICATION/YAML')).toEqual([
      'application/json',
      'text/yaml',
      'text/yaml',
    ]);
    expect(parseMediaTypes(undefined)).toEqual([]);
  });

  it('request bodies (§3.1)', () => {
    expect(bodyFormat(undefined)).toBe('radl');
    expect(bodyFormat('text/plain; charset=utf-8')).toBe('radl');
    expect(bodyFormat('*/*')).toBe('radl');
    expect(bodyFormat('text/*')).toBe('radl');
    expect(bodyFormat('application/json')).toBe('json');
    expect(bodyFormat('text/x-yaml')).toBe('tosca');
    expect(code(() => bodyFormat('application/xml'))).toBe('UNSUPPORTED_MEDIA_TYPE Unsupported Media Type application/xml');
    expect(code(() => requireJsonBody('text/plain'))).toMatch(/^UNSUPPORTED_MEDIA_TYPE/);
    expect(code(() => requireJsonBody(undefined))).toBeUndefined();
  });
});

describe('Accept algorithm (§3.2)', () => {
  it('absent → default type; first match wins', () => {
    expect(negotiate(undefined, 'text/uri-list').contentType).toBe('text/uri-list');
    expect(negotiate('text/html, application/json', 'text/plain').contentType).toBe('application/json');
    expect(negotiate('text/*, application/json', 'text/uri-list').contentType).toBe('text/uri-list');
    expect(negotiate('application/*', 'text/plain').contentType).toBe('application/json');
    expect(negotiate('*/*', 'application/json').contentType).toBe('application/json');
  });

  it('no match → 415 with the list', () => {
    expect(code(() => negotiate('text/html, image/png', 'text/plain'))).toBe('UNSUPPORTED_MEDIA_TYPE Unsupported Accept Media Types: text/html,image/png');
    expect(code(() => negotiate('text/plain', 'text/uri-list'))).toMatch(/^UNSUPPORTED_MEDIA_TYPE/);
  });

  it('JSON-only endpoints need json, application/* or */*', () => {
    expect(negotiate(undefined, 'application/json', { jsonOnly: true }).contentType).toBe('application/json');
    expect(negotiate('text/plain, */*', 'application/json', { jsonOnly: true }).contentType).toBe('application/json');
    expect(code(() => negotiate('text/plain', 'application/json', { jsonOnly: true }))).toMatch(/^UNSUPPORTED_MEDIA_TYPE/);
    expect(code(() => negotiate('text/*', 'application/json', { jsonOnly: true }))).toMatch(/^UNSUPPORTED_MEDIA_TYPE/);
  });

  it('JSON wrappers', () => {
    const json = negotiate('application/json', 'text/uri-list');
    expect(JSON.parse(String(json.list(['a', 'b'], 'uri-list', 'uri').body))).toEqual({ 'uri-list': [{ uri: 'a' }, { uri: 'b' }] });
    expect(JSON.parse(String(json.value({ text: 'u', json: 'u' }, 'uri').body))).toEqual({ uri: 'u' });
    const text = negotiate(undefined, 'text/uri-list');
    expect(text.list(['a', 'b'], 'uri-list', 'uri').body).toBe('a\nb');
    expect(text.list([], 'uri-list', 'uri').body).toBe('');
    const r = negotiate(undefined, 'text/plain').value({ text: 'x', json: 'x' }, 'radl', { InfID: '1' });
    expect(r.headers).toEqual({ 'Content-Type': 'text/plain', InfID: '1' });
  });
});

describe('error bodies (§4)', () => {
  it('JSON, HTML or plain text by Accept membership', () => {
    const j = errorResponse(404, 'Nope', 'text/html, application/json');
    expect(j.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(j.body))).toEqual({ message: 'Nope', code: 404 });
    const h = errorResponse(403, 'a <b>', 'text/html');
    expect(h.headers['Content-Type']).toBe('text/html');
    expect(h.body).toContain('<title>Error 403.</title>');
    expect(h.body).toContain('Message: a &lt;b&gt;');
    const p = errorResponse(400, 'bad', '*/*');
    expect(p).toEqual({ statusCode: 400, headers: { 'Content-Type': 'text/plain' }, body: 'bad' });
  });
});

describe('boolean flags', () => {
  it('yes/no/true/false/1/0 in any case, default when absent, 400 otherwise', () => {
    expect(parseFlag({ a: 'YES' }, 'a', false)).toBe(true);
    expect(parseFlag({ a: 'False' }, 'a', true)).toBe(false);
    expect(parseFlag({ a: '1' }, 'a', false)).toBe(true);
    expect(parseFlag({ a: '0' }, 'a', true)).toBe(false);
    expect(parseFlag({}, 'a', true)).toBe(true);
    expect(code(() => parseFlag({ a: 'maybe' }, 'a', true))).toBe('BAD_REQUEST Incorrect value in a parameter');
  });
});
