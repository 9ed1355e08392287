/**
 * The VM's EC2 key pair `im-<infId>-<vmId>`: an existing pair named by a short `public_key` (IM's rule), the
 * RADL public key imported (or the one derived from its private key), else a new RSA pair whose private key
 * goes into the VM's system. Deleted with its VM.
 */
import { CreateKeyPairCommand, DeleteKeyPairCommand, ImportKeyPairCommand, type EC2Client, type TagSpecification } from '@aws-sdk/client-ec2';
import type { System } from '#radl/index';
import { ImError } from '#core/errors';
import type { Logger } from '#core/types';
import { normalisePublicKey, publicKeyFromPrivate } from '#connectors/ssh-keys';
import type { Ec2CloudData } from '#connectors/ec2/cloud-data';
import { errorCode } from '#connectors/ec2/errors';
import { INFRA_TAG } from '#connectors/ec2/tags';

/** The key pair name of a VM (deterministic: finalize tries it even without cloudData). */
export function keyPairName(infId: string, vmId: number): string {
  return `im-${infId}-${vmId}`;
}

/** A RADL `public_key` shorter than 128 characters without spaces names an existing EC2 key pair (IM rule). */
export function isKeyPairName(value: string): boolean {
  const v = value.trim();
  return v.length > 0 && v.length < 128 && !/\s/.test(v) && !v.includes('-----BEGIN') && normalisePublicKey(v) === undefined;
}

/** A key pair left by an earlier failed attempt of the same VM is replaced. */
async function withDuplicateKeyRetry<T>(ec2: EC2Client, keyName: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (errorCode(err) !== 'InvalidKeyPair.Duplicate') throw err;
    await ec2.send(new DeleteKeyPairCommand({ KeyName: keyName }));
    return fn();
  }
}

/**
 * The key pair: an existing one named by a short `public_key`; ImportKeyPair of the RADL public key (or of
 * the one derived from its private key); else CreateKeyPair, whose private key goes into the system.
 */
export async function ensureKeyPair(ec2: EC2Client, ids: { infId: string; vmId: number }, system: System, created: Ec2CloudData): Promise<string | undefined> {
  const keyName = keyPairName(ids.infId, ids.vmId);
  const pub = system.getString('disk.0.os.credentials.public_key');
  const priv = system.getString('disk.0.os.credentials.private_key');
  const tagSpec: TagSpecification[] = [{ ResourceType: 'key-pair', Tags: [{ Key: INFRA_TAG, Value: ids.infId }] }];
  if (pub && isKeyPairName(pub)) return pub.trim();
  if (pub || priv) {
    const material = pub ? normalisePublicKey(pub) : publicKeyFromPrivate(priv as string);
    if (!material) {
      throw new ImError(
        'BAD_REQUEST',
        pub
          ? 'disk.0.os.credentials.public_key is neither an OpenSSH/PEM public key nor an EC2 key pair name'
          : 'Cannot read disk.0.os.credentials.private_key (PEM expected): give disk.0.os.credentials.public_key too',
      );
    }
    const cmd = () => new ImportKeyPairCommand({ KeyName: keyName, PublicKeyMaterial: Buffer.from(material), TagSpecifications: tagSpec });
    await withDuplicateKeyRetry(ec2, keyName, () => ec2.send(cmd()));
    created.keyPair = keyName;
    return keyName;
  }
  const res = await withDuplicateKeyRetry(ec2, keyName, () =>
    ec2.send(new CreateKeyPairCommand({ KeyName: keyName, KeyType: 'rsa', KeyFormat: 'pem', TagSpecifications: tagSpec })),
  );
  created.keyPair = keyName;
  if (!res.KeyMaterial) throw new ImError('CLOUD_RETRYABLE', 'CreateKeyPair returned no key material');
  system.setValue('disk.0.os.credentials.private_key', res.KeyMaterial);
  return keyName;
}

/** The public key cloud-init installs for the user (from the RADL, or derived from the private key). */
export function userPublicKey(system: System, logger: Logger): string | undefined {
  const pub = system.getString('disk.0.os.credentials.public_key');
  if (pub && !isKeyPairName(pub)) return normalisePublicKey(pub);
  const priv = system.getString('disk.0.os.credentials.private_key');
  const derived = priv ? publicKeyFromPrivate(priv) : undefined;
  if (priv && !derived) logger.warn('EC2: could not derive the public key from the private key; cloud-init will not install it');
  return derived;
}
