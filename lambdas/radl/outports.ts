/**
 * The `outports` network feature: a comma list of
 *   `[<cidr>-]<remote>[/<proto>][-<local>[/<proto>]]`  or  `[<cidr>-]<from>:<to>[/<proto>]`
 * with proto ∈ tcp (default), udp, icmp.
 */
import { RadlError } from './errors.ts';

export type OutPortProtocol = 'tcp' | 'udp' | 'icmp';

export interface OutPort {
  /** Source CIDR allowed to reach the port ('' = anywhere). */
  remoteCidr: string;
  protocol: OutPortProtocol;
  /** Public port; for a range, the first port. */
  remotePort: number;
  /** Port on the VM; for a range, the last port. */
  localPort: number;
  /** `from:to` range (remotePort..localPort, same ports on both sides). */
  isRange: boolean;
}

const CIDR_RE = /^[0-9A-Fa-f.:]+\/\d{1,3}$/;
const PORT_RE = /^(\d{1,5})(?:\/(tcp|udp|icmp))?$/i;
const RANGE_RE = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp|icmp))?$/i;

function invalid(detail: string): RadlError {
  return new RadlError(`Invalid value in property 'outports': ${detail}`);
}

function port(n: string, entry: string): number {
  const p = Number(n);
  if (p > 65535) throw invalid(`port ${n} out of range in '${entry}'`);
  return p;
}

function isCidr(s: string): boolean {
  return CIDR_RE.test(s) && (s.includes('.') || s.split(':').length > 2);
}

/** Parse an outports value. Throws RadlError `Invalid value in property 'outports': …` when malformed. */
export function parseOutports(value: string): OutPort[] {
  const out: OutPort[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    let parts = entry.split('-');
    let remoteCidr = '';
    if (parts.length > 1 && isCidr(parts[0])) {
      remoteCidr = parts[0];
      parts = parts.slice(1);
    }
    if (parts.length === 1) {
      const r = RANGE_RE.exec(parts[0]);
      if (r) {
        const from = port(r[1], entry);
        const to = port(r[2], entry);
        if (from > to) throw invalid(`empty range '${parts[0]}'`);
        const protocol = (r[3]?.toLowerCase() ?? 'tcp') as OutPortProtocol;
        out.push({ remoteCidr, protocol, remotePort: from, localPort: to, isRange: true });
        continue;
      }
      const m = PORT_RE.exec(parts[0]);
      if (!m) throw invalid(`'${entry}' is not a port, port mapping or range`);
      const p = port(m[1], entry);
      out.push({ remoteCidr, protocol: (m[2]?.toLowerCase() ?? 'tcp') as OutPortProtocol, remotePort: p, localPort: p, isRange: false });
      continue;
    }
    if (parts.length !== 2) throw invalid(`'${entry}' has too many '-'`);
    const a = PORT_RE.exec(parts[0]);
    const b = PORT_RE.exec(parts[1]);
    if (!a || !b) throw invalid(`'${entry}' is not a valid '<remote>-<local>' mapping (ranges cannot be mapped)`);
    const pa = a[2]?.toLowerCase();
    const pb = b[2]?.toLowerCase();
    if (pa !== undefined && pb !== undefined && pa !== pb) throw invalid(`different protocols in '${entry}'`);
    out.push({
      remoteCidr,
      protocol: (pa ?? pb ?? 'tcp') as OutPortProtocol,
      remotePort: port(a[1], entry),
      localPort: port(b[1], entry),
      isRange: false,
    });
  }
  return out;
}
