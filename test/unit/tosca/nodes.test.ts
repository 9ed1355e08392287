/** Each node type's translation: Compute, networks, BlockStorage, AnsibleHost, containers, FaaS, software. */
import { describe, expect, it } from 'vitest';
import { radlToText } from '#radl/index';
import { compute, errorOf, radlOf, recipeOf, tpl } from './helpers.ts';

describe('Compute → system', () => {
  it('maps the os and host capabilities (operators, units, GPUs, SGX, spot, instance type)', async () => {
    const { radl } = await radlOf(
      tpl({
        vm: compute({
          os: { properties: { type: 'linux', distribution: 'ubuntu', version: 22.04, architecture: 'x86_64', image: 'grycap/ubuntu' } },
          host: {
            properties: {
              num_cpus: 2,
              mem_size: '4 GiB',
              disk_size: '20 GB',
              instance_type: 'm1.large',
              preemtible_instance: true,
              num_gpus: 1,
              gpu_vendor: 'NVIDIA',
              gpu_model: { equal: 'V100' },
              sgx: true,
              sgx_epc_size: '128 MiB',
              disk_type: 'ssd',
            },
          },
        }),
      }),
    );
    const s = radl.getSystemByName('vm');
    expect(s).toBeDefined();
    const text = radlToText(radl);
    expect(text).toContain("disk.0.os.name = 'linux'");
    expect(text).toContain("disk.0.os.flavour = 'ubuntu'");
    expect(text).toContain("disk.0.os.version = '22.04'");
    expect(text).toContain("cpu.arch = 'x86_64'");
    expect(s?.getString('disk.0.image.url')).toBe('docker://grycap/ubuntu');
    expect(text).toContain('cpu.count >= 2');
    expect(s?.getBounds('memory.size').min?.getNumber()).toBe(4 * 2 ** 30);
    expect(s?.getBounds('disk.0.size').min?.getNumber()).toBe(20e9);
    expect(s?.getString('instance_type')).toBe('m1.large');
    expect(s?.getString('spot')).toBe('yes');
    expect(text).toContain('gpu.count >= 1');
    expect(s?.getString('gpu.vendor')).toBe('NVIDIA');
    expect(s?.getString('gpu.model')).toBe('V100');
    expect(s?.getString('cpu.sgx')).toBe('yes');
    expect(s?.getNumber('cpu.sgx.epc_size')).toBe(128 * 2 ** 20);
    expect(s?.getString('disk.0.type')).toBe('ssd');
    expect(s?.getString('instance_name')).toBe('vm');
  });

  it('operator maps select the comparator', async () => {
    const { radl } = await radlOf(tpl({ vm: compute({ host: { properties: { num_cpus: { less_or_equal: 4 }, mem_size: { greater_than: '1 GB' } } } }) }));
    const text = radlToText(radl);
    expect(text).toContain('cpu.count <= 4');
    expect(text).toContain('memory.size > 1000000000');
  });

  it('image credentials, instance name and tags', async () => {
    const { radl } = await radlOf(
      tpl({
        vm: compute(
          { os: { properties: { type: 'linux', image: 'ost://cloud/abc', credential: { user: 'cloudadm', token_type: 'private_key', token: 'KEY' } } } },
          { properties: { instance_name: 'my-vm', tags: { owner: 'me', project: 'p1' } } },
        ),
      }),
    );
    const s = radl.getSystemByName('vm');
    expect(s?.getString('disk.0.image.url')).toBe('ost://cloud/abc');
    expect(s?.getString('disk.0.os.credentials.username')).toBe('cloudadm');
    expect(s?.getString('disk.0.os.credentials.private_key')).toBe('KEY');
    expect(s?.getString('instance_name')).toBe('my-vm');
    expect(s?.getString('instance_tags')).toBe('owner=me,project=p1');
  });

  it('credentials without a user and tags that are not a map fail', async () => {
    expect(await errorOf(tpl({ vm: compute({ os: { properties: { credential: { token_type: 'password', token: 'x' } } } }) }))).toContain('node "vm": User must be specified in the image credentials.');
    const m = await errorOf(tpl({ vm: compute({}, { properties: { tags: { get_input: 'tags' } } }) }, { inputs: { tags: { type: 'string', default: 'a=b' } } }));
    expect(m).toContain('node "vm": tags property must be a dictionary.');
  });

  it('attaches BlockStorage in requirement order and ignores disks without size or volume', async () => {
    const { radl } = await radlOf(
      tpl({
        vm: compute(
          {},
          {
            requirements: [
              { local_storage: { node: 'empty', relationship: { type: 'AttachesTo', properties: { location: '/none' } } } },
              { local_storage: { node: 'data', relationship: { type: 'tosca.relationships.AttachesTo', properties: { location: '/data', device: 'hdb' } } } },
              { local_storage: { node: 'old', relationship: { type: 'tosca.relationships.indigo.AttachesTo', properties: { location: 'swap', fs_type: 'swap' } } } },
            ],
          },
        ),
        empty: { type: 'tosca.nodes.BlockStorage', properties: { size: { get_input: 'zero' } } },
        data: { type: 'tosca.nodes.BlockStorage', properties: { size: '10 GiB' } },
        old: { type: 'tosca.nodes.BlockStorage', properties: { volume_id: 'ost://cloud/vol-1' } },
      }, { inputs: { zero: { type: 'scalar-unit.size', default: '0 GB' } } }),
    );
    const s = radl.getSystemByName('vm');
    expect(s?.getNumber('disk.1.size')).toBe(10 * 2 ** 30);
    expect(s?.getString('disk.1.mount_path')).toBe('/data');
    expect(s?.getString('disk.1.fstype')).toBe('ext4');
    expect(s?.getString('disk.1.device')).toBe('hdb');
    expect(s?.getString('disk.2.image.url')).toBe('ost://cloud/vol-1');
    expect(s?.getString('disk.2.fstype')).toBe('swap');
    expect(s?.hasFeature('disk.3.mount_path')).toBe(false);
  });
});

describe('networks', () => {
  const endpoint = (props: Record<string, unknown>) => compute({ endpoint: { properties: props } });

  it('PUBLIC: a private interface 0, a public one with the outports, dns names and TLS', async () => {
    const { radl } = await radlOf(
      tpl({
        vm: endpoint({
          network_name: 'PUBLIC',
          dns_name: 'vm.example.org',
          additional_dns_names: ['a.example.org'],
          tls: true,
          ports: { https: { source: 443, remote_cidr: '10.0.0.0/8' }, range: { protocol: 'udp', source_range: [2000, 2100] }, map: { source: 8080, target: 80 } },
        }),
      }),
    );
    const s = radl.getSystemByName('vm');
    expect(s?.getNetworkIds()).toEqual(['private_net', 'public_net']);
    expect(radl.getNetworkById('public_net')?.getString('outports')).toBe('10.0.0.0/8-443/tcp-443/tcp,2000:2100/udp,8080/tcp-80/tcp');
    expect(s?.getString('net_interface.0.dns_name')).toBe('vm.example.org');
    expect(s?.getString('net_interface.0.dns.0.name')).toBe('vm.example.org');
    expect(s?.getString('net_interface.1.dns.0.name')).toBe('a.example.org');
    expect(s?.getString('net_interface.1.dns.0.tls')).toBe('true');
  });

  it('private_ip false: only the public interface; a single port', async () => {
    const { radl } = await radlOf(tpl({ vm: endpoint({ network_name: 'PUBLIC', private_ip: false, port: 22, protocol: 'tcp' }) }));
    expect(radl.getSystemByName('vm')?.getNetworkIds()).toEqual(['public_net']);
    expect(radl.getNetworkById('public_net')?.getString('outports')).toBe('22/tcp-22/tcp');
  });

  it('provider ids: <id>.PUBLIC, <net>,<pool>, plain ids; one public network per node; the private one shared', async () => {
    const { radl } = await radlOf(tpl({ a: endpoint({ network_name: 'vpc-1.PUBLIC' }), b: endpoint({ network_name: 'mynet,mypool' }), c: endpoint({ network_name: 'privnet' }) }));
    expect(radl.networks.map((n) => n.id)).toEqual(['private_net', 'public_net', 'public_net_1']);
    expect(radl.getNetworkById('private_net')?.getString('provider_id')).toBe('privnet');
    expect(radl.getNetworkById('public_net_1')?.getString('provider_id')).toBe('mypool');
    expect(radl.getSystemByName('c')?.getNetworkIds()).toEqual(['private_net']);
  });

  it('explicit networks and ports', async () => {
    const { radl } = await radlOf(
      tpl({
        pub: { type: 'tosca.nodes.network.Network', properties: { network_type: 'public' } },
        priv: { type: 'tosca.nodes.network.Network', properties: { network_name: 'net-1', cidr: '192.168.10.0/24', gateway_ip: '192.168.0.0/16,vr1' } },
        vm: compute({ endpoint: { properties: { ports: { vpn: { protocol: 'udp', source: 1194 } } } } }),
        p0: { type: 'tosca.nodes.indigo.network.Port', properties: { order: 0, ip_address: '192.168.10.5' }, requirements: [{ binding: 'vm' }, { link: 'priv' }] },
        p1: { type: 'tosca.nodes.indigo.network.Port', properties: { order: 1, dns_name: 'vm.example.org' }, requirements: [{ binding: 'vm' }, { link: 'pub' }] },
      }),
    );
    const s = radl.getSystemByName('vm');
    expect(s?.getNetworkIds()).toEqual(['priv', 'pub']);
    expect(s?.getString('net_interface.0.ip')).toBe('192.168.10.5');
    expect(s?.getString('net_interface.1.dns_name')).toBe('vm.example.org');
    const priv = radl.getNetworkById('priv');
    expect([priv?.getString('provider_id'), priv?.getString('cidr'), priv?.getString('create'), priv?.getString('router')]).toEqual(['net-1', '192.168.10.0/24', 'yes', '192.168.0.0/16,vr1']);
    expect(radl.getNetworkById('pub')?.getString('outports')).toBe('1194/udp-1194/udp');
  });

  it('no network at all: a public network `public` for every system', async () => {
    const { radl } = await radlOf(tpl({ c: { type: 'tosca.nodes.Container.Application.Docker', artifacts: { i: { file: 'nginx', type: 'tosca.artifacts.Deployment.Image.Container.Docker' } }, requirements: [{ host: 'rt' }] }, rt: { type: 'tosca.nodes.Container.Runtime.Docker' } }));
    expect(radl.networks.map((n) => [n.id, n.getString('outbound')])).toEqual([['public', 'yes']]);
  });

  it('deploys: public systems first (names with wn after them), then the private ones', async () => {
    const { radl } = await radlOf(tpl({ priv: compute(), wn_pub: endpoint({ network_name: 'PUBLIC' }), front: endpoint({ network_name: 'PUBLIC' }) }));
    expect(radl.deploys.map((d) => d.systemId)).toEqual(['front', 'wn_pub', 'priv']);
  });

  it('private networks of systems in different clouds are split', async () => {
    const { radl } = await radlOf(
      tpl({ a: compute({ os: { properties: { image: 'ost://one.org/1' } } }), b: compute({ os: { properties: { image: 'ost://two.org/2' } } }) }),
    );
    expect(radl.getSystemByName('a')?.getNetworkIds()).toEqual(['private_net']);
    expect(radl.getSystemByName('b')?.getNetworkIds()).toEqual(['private.two.org']);
  });
});

describe('AnsibleHost, containers and FaaS', () => {
  it('tosca.nodes.im.AnsibleHost → the RADL ansible section', async () => {
    const { radl } = await radlOf(tpl({ vm: compute(), ah: { type: 'tosca.nodes.im.AnsibleHost', properties: { host: '10.0.0.5', credential: { user: 'ops', token_type: 'private_key', token: 'KEY' } } } }));
    const a = radl.ansibleHosts[0];
    expect([a.id, a.getString('host'), a.getString('credentials.username'), a.getString('credentials.private_key')]).toEqual(['ansible_host', '10.0.0.5', 'ops', 'KEY']);
  });

  it('Docker containers → Kubernetes systems (image, environment, resources, volumes, ports)', async () => {
    const { radl } = await radlOf(
      tpl(
        {
          'my.app': {
            type: 'tosca.nodes.Container.Application.Docker',
            properties: { environment: { A: '1', B: { get_attribute: ['db', 'endpoints', 0] } }, command: ['sh', '-c', 'run'] },
            artifacts: {
              image: { file: 'im:1.0', type: 'tosca.artifacts.Deployment.Image.Container.Docker', repository: 'hub' },
              conf: { file: 'https://example.org/x.cfg', type: 'tosca.artifacts.File', deploy_path: '/etc/x.cfg', properties: { content: 'a=1' } },
            },
            requirements: [{ host: 'rt' }],
          },
          rt: {
            type: 'tosca.nodes.Container.Runtime.Docker',
            capabilities: { host: { properties: { num_cpus: 0.5, mem_size: '1 GB', publish_ports: [{ source: 30880, target: 8800, endpoint: 'https://im.example.org/im' }], volumes: ['vol:/data'] } } },
          },
          vol: { type: 'tosca.nodes.BlockStorage', properties: { size: '10 GB' } },
          db: { type: 'tosca.nodes.Container.Application.Docker', artifacts: { image: { file: 'mysql:8', type: 'tosca.artifacts.Deployment.Image.Container.Docker' } }, requirements: [{ host: 'dbrt' }] },
          dbrt: { type: 'tosca.nodes.Container.Runtime.Docker', capabilities: { host: { properties: { expose_ports: [{ target: 3306 }] } } } },
        },
        {},
        { repositories: { hub: 'docker.io' } },
      ),
    );
    const s = radl.getSystemByName('my-app-abcdef01');
    expect(s?.getString('disk.0.image.url')).toBe('docker://docker.io/im:1.0');
    expect(s?.getString('environment.variables')).toBe('A=1,B=db-abcdef01:3306');
    expect(s?.getList('command')).toEqual(['sh', '-c', 'run']);
    expect(s?.getString('disk.1.content')).toBe('a=1');
    expect(s?.getString('disk.1.mount_path')).toBe('/etc/x.cfg');
    expect(s?.getNumber('disk.2.size')).toBe(10e9);
    expect(s?.getString('disk.2.mount_path')).toBe('/data');
    expect(s?.getString('net_interface.0.connection')).toBe('my-app-abcdef01_pub');
    expect(s?.getString('net_interface.0.dns_name')).toBe('https://im.example.org/im');
    expect(radl.getNetworkById('my-app-abcdef01_pub')?.getString('outports')).toBe('30880/tcp-8800/tcp');
    expect(radl.getNetworkById('db-abcdef01_priv')?.getString('outbound')).toBe('no');
    expect(radl.deploys.map((d) => `${d.systemId} ${d.vmNumber}`)).toEqual(['my-app-abcdef01 1', 'db-abcdef01 1']);
  });

  it('a container without image fails', async () => {
    const m = await errorOf(tpl({ c: { type: 'tosca.nodes.Container.Application.Docker', requirements: [{ host: 'rt' }] }, rt: { type: 'tosca.nodes.Container.Runtime.Docker' } }));
    expect(m).toContain('node "c": No image specified for K8s container.');
  });

  it('a FaaS function on OSCAR → a configure run on the OSCAR front end; count 0 deletes', async () => {
    const fn = (count: number) =>
      tpl({
        front: compute(),
        kube: { type: 'tosca.nodes.indigo.LRMS.FrontEnd.Kubernetes', properties: { admin_token: 't' }, requirements: [{ host: 'front' }] },
        oscar: { type: 'tosca.nodes.indigo.OSCAR', properties: { dns_host: 'oscar.example.org', password: 'pw' }, requirements: [{ host: 'kube' }] },
        fn: {
          type: 'tosca.nodes.aisprint.FaaS.Function',
          properties: { name: 'plants', memory: '512Mi', cpu: 0.5, image: 'grycap/im', script: 'echo hi', env_variables: { K: 'V' } },
          capabilities: { scalable: { properties: { count } } },
          requirements: [{ host: 'oscar' }],
        },
      });
    const { radl } = await radlOf(fn(1));
    const recipe = recipeOf(radl, 'oscar_fn') as { tasks: { include_tasks: string; vars: Record<string, string> }[] }[];
    expect(recipe[0].tasks[0].include_tasks).toBe('utils/tasks/oscar_function.yml');
    expect(recipe[0].tasks[0].vars.oscar_endpoint).toBe('https://oscar.example.org');
    expect(recipe[0].tasks[0].vars.oscar_password).toBe('pw');
    expect(JSON.parse(recipe[0].tasks[0].vars.oscar_service_json)).toEqual({
      name: 'plants',
      memory: '512Mi',
      cpu: '0.5',
      image: 'grycap/im',
      script: 'echo hi',
      environment: { Variables: { K: 'V' } },
      enable_gpu: false,
      alpine: false,
    });
    expect(radl.contextualize?.items.find((i) => i.configureId === 'oscar_fn')).toEqual({ systemId: 'front', configureId: 'oscar_fn', step: 4 });
    const del = recipeOf((await radlOf(fn(0))).radl, 'oscar_fn') as { tasks: { include_tasks: string; vars: Record<string, string> }[] }[];
    expect(del[0].tasks[0].include_tasks).toBe('utils/tasks/del_oscar_function.yml');
    expect(del[0].tasks[0].vars.oscar_service_name).toBe('plants');
  });
});
