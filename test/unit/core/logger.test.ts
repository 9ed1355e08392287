/** Redaction by parsed field (issue "Hardening", small leaks): every form a secret takes in a log line. */
import { describe, expect, it } from 'vitest';
import { createLogger, scrub } from '#core/logger';

const MARK = 'MARK9999';

describe('scrub: secrets go whatever their form', () => {
  const cases: [string, string][] = [
    ['unquoted', `password = VmPw${MARK}`],
    ['unquoted, ending with a quote (the reported leak)', `password =''VmPw${MARK}'`],
    ['single-quoted', `password = 'VmPw ${MARK}'`],
    ['double-quoted with a separator inside', `password = "Vm;Pw,${MARK}"`],
    ['auth line', `type = InfrastructureManager; username = u; password = Vm'Pw${MARK}\\nid = one; type = Dummy`],
    ['RADL feature among others', `system s ( disk.0.os.credentials.username = 'u' and disk.0.os.credentials.password = 'VmPw${MARK}' and cpu.count >= 1 )`],
    ['multi-line value', `disk.0.os.credentials.password='VmPw\n${MARK}'`],
    ['value on the next line', `password =\n VmPw${MARK}`],
    ['JSON', `{"password": "VmPw${MARK}", "items": [{"token": "${MARK}"}]}`],
    ['JSON inside text', `bad item {"password":"Vm\\"Pw${MARK}"} here`],
    ['quoted in an error text', `Error: invalid item 'password: VmPw${MARK}' here`],
    ['private key block', `-----BEGIN RSA PRIVATE KEY-----\nMII${MARK}\n-----END RSA PRIVATE KEY-----`],
    ['bearer', `Authorization: Bearer abc.${MARK}.def`],
    ['token key', `token=abc.def.${MARK}`],
  ];
  it.each(cases)('%s', (_name, text) => {
    expect(scrub(text)).not.toContain(MARK);
  });

  it('keeps what is not secret', () => {
    expect(scrub('username = joe; host = http://h:5000/v3; type = OpenStack')).toBe('username = joe; host = http://h:5000/v3; type = OpenStack');
    expect(scrub("system s ( cpu.count >= 2 and memory.size >= 1g )")).toBe("system s ( cpu.count >= 2 and memory.size >= 1g )");
  });

  it('the logger applies it to messages and fields, by key and by value', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'DEBUG', write: (l) => lines.push(l) });
    log.info(`refused: password = VmPw${MARK}`, { item: { type: 'DeployedNode', password: MARK }, message: `token: ${MARK}`, nested: [{ private_key: MARK }] });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(MARK);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'INFO', item: { type: 'DeployedNode', password: '[REDACTED]' } });
  });
});
