import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { radlToJson, type Radl, type RadlError } from '#radl/index';

/** The shared compatibility fixtures: `shared/` sits beside the repository (override: IM_FIXTURES_DIR). */
export const FIXTURES_DIR =
  process.env.IM_FIXTURES_DIR ?? resolve(fileURLToPath(new URL('../../../', import.meta.url)), '..', 'shared', 'fixtures');

export interface Fixture {
  name: string;
  path: string;
  text: string;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (e.endsWith('.radl')) out.push(p);
  }
  return out.sort();
}

/** Every `*.radl` fixture (TOSCA .yml/.yaml files are skipped). */
export const ALL_FIXTURES: Fixture[] = walk(FIXTURES_DIR).map((p) => ({
  name: p.slice(FIXTURES_DIR.length + 1),
  path: p,
  text: readFileSync(p, 'utf8'),
}));

/** Public examples that are invalid RADL. */
export const INVALID_FIXTURES = new Set(['im-examples/glusterfs.radl', 'im-examples/oscar.radl']);
export const VALID_FIXTURES = ALL_FIXTURES.filter((f) => !INVALID_FIXTURES.has(f.name));

/** Canonical, order-insensitive meaning of a model: its RADL-JSON. */
export function canon(radl: Radl): unknown {
  return radlToJson(radl);
}

/** Run fn and return the RadlError it throws (fails the test if it does not throw one). */
export function radlErrorOf(fn: () => unknown): RadlError {
  try {
    fn();
  } catch (e) {
    if (e instanceof Error && e.name === 'RadlError') return e as RadlError;
    throw new Error(`expected a RadlError, got ${String(e)}`);
  }
  throw new Error('expected a RadlError, nothing was thrown');
}

/** The valid snippets of spec §10 (1–7) and the §8 example. */
export const SPEC_EXAMPLES: Record<string, string> = {
  '10.1 minimal / parametric units': `system tiny ( cpu.count >= 1 and memory.size >= 512Mi )
deploy tiny 1
`,
  '10.2 networks, port mapping, DNS template': `network priv ( )
network pub ( outbound = 'yes' and outports = '8080-80,22' )
system fe ( net_interface.0.connection = 'pub' and net_interface.0.dns_name = 'fe-#N#.example.org' and
            net_interface.1.connection = 'priv' and disk.0.os.name = 'linux' )
deploy fe 1
`,
  '10.3 intervals, soft, versions': `system wn ( cpu.count >= 2 and cpu.count <= 8 and disk.0.os.version >= '20.04' and
            soft 50 ( memory.size >= 8G ) and soft 10 ( gpu.count >= 1 ) )
`,
  '10.4 data disk, applications, image list': `system db ( disk.0.image.url = ['ost://cloud.a/abc', 'one://cloud.b/12'] and
            disk.0.applications contains (name = 'ansible.roles.geerlingguy.mysql') and
            disk.1.size = 20GiB and disk.1.fstype = 'ext4' and disk.1.mount_path = '/data' )
`,
  '10.5 recipes, ordered contextualization': `system a ( cpu.count = 1 )
system b ( cpu.count = 1 )
configure srv (
@begin
- tasks:
  - debug: msg="server"
@end
)
configure cli ( )
contextualize 600 ( option ansible_version = '2.9.27' system a configure srv step 1 system b configure cli step 2 )
deploy a 1 one
deploy b 2
`,
  '10.6 references, disabled contextualization': `network pub
system wn
contextualize ()
deploy wn 3
`,
  '10.7 external ansible master and description': `description d ( name = 'My infra' )
ansible master ( host = '10.0.0.5' and credentials.username = 'ops' and credentials.private_key = '-----BEGIN…' )
system n ( ansible_host = 'master' )
`,
  '8 JSON example': `network pub (outbound = 'yes' and outports = '22,80')
system web ( cpu.count >= 2 and memory.size >= 2Gi and net_interface.0.connection = 'pub' and
             disk.0.image.url = 'aws://us-east-1/ami-123' and disk.0.applications contains (name = 'nginx') )
configure web (
@begin
- tasks: [ { debug: { msg: hi } } ]
@end
)
deploy web 2 ec2
`,
};
