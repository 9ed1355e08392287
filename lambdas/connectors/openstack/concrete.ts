/**
 * The OpenStack connector's concreteSystem (openstack.md §2.2), free of network code so that the registry
 * answers it without loading the connector: one candidate per `ost://<server>/…` URL of `disk.0.image.url`
 * whose host is the item's. The flavor is chosen at launch (concreteSystem makes no calls).
 */
import type { AuthItem } from '#core/types';
import type { System } from '#radl/index';
import { parseAuthItem, parseHost } from '#connectors/openstack/auth-item';
import { parseOstUrl } from '#connectors/openstack/images';

export function openstackConcreteSystem(system: System, auth: AuthItem): System[] {
  const host = parseHost(auth.host);
  if (!host) return [];
  const out: System[] = [];
  for (const url of system.getList('disk.0.image.url') ?? []) {
    if (!parseOstUrl(url, host.server)) continue;
    // The image is this cloud's: a broken item is the user's error (400 with IM's text).
    parseAuthItem(auth);
    const s = system.clone();
    s.setValue('disk.0.image.url', url);
    s.setValue('provider.type', 'OpenStack');
    s.setValue('provider.host', host.server);
    if (host.explicitPort) s.setValue('provider.port', host.port);
    if (!s.getString('disk.0.os.credentials.username')) s.setValue('disk.0.os.credentials.username', 'cloudadm');
    if (auth.vo) s.setValue('provider.vo', auth.vo);
    out.push(s);
  }
  return out;
}
