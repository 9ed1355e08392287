/**
 * Provider-neutral helpers the OpenStack connector shares with the EC2 connector (one import point, so that
 * moving the EC2 files changes one line here): PRIVATE_NET_MASKS classification, CIDR matching, SSH public
 * keys from RADL credentials, the `cloud_init` recipes of a system.
 */
export { cloudInitRecipes } from '#connectors/cloud-init';
export { ipInCidr, isPrivateIp } from '#connectors/ip-addresses';
export { normalisePublicKey, publicKeyFromPrivate } from '#connectors/ssh-keys';
