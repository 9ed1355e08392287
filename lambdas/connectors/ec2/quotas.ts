/**
 * IM's quota map for EC2: limits from Service Quotas, falling back to DescribeAccountAttributes when Service
 * Quotas is not allowed; usage counted from DescribeInstances, DescribeAddresses and DescribeSecurityGroups.
 */
import {
  DescribeAccountAttributesCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  type DescribeInstancesCommandOutput,
  type DescribeSecurityGroupsCommandOutput,
  type Instance,
} from '@aws-sdk/client-ec2';
import { GetServiceQuotaCommand } from '@aws-sdk/client-service-quotas';
import type { AuthItem, Quotas } from '#core/types';
import type { Ec2Context } from '#connectors/ec2/context';
import { authSecrets, errorCode, mapEc2Error } from '#connectors/ec2/errors';
import { instanceTypeInfo } from '#connectors/ec2/instance-types';
import { DEFAULT_REGION } from '#connectors/ec2/refs';

/** AWS "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" vCPU quota. */
export const QUOTA_STANDARD_VCPUS = { ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' } as const;
/** AWS "EC2-VPC Elastic IPs" quota. */
export const QUOTA_ELASTIC_IPS = { ServiceCode: 'ec2', QuotaCode: 'L-0263D0A3' } as const;
/** AWS "VPC security groups per Region" quota. */
export const QUOTA_SECURITY_GROUPS = { ServiceCode: 'vpc', QuotaCode: 'L-E79EC296' } as const;

const STANDARD_FAMILY_RE = /^[acdhimrtz]/;

/**
 * `{cores, instances, floating_ips, security_groups}` of the auth item's region (default us-east-1).
 * Limits from Service Quotas (L-1216C47A standard on-demand vCPUs, L-0263D0A3 Elastic IPs, vpc L-E79EC296
 * security groups), falling back to DescribeAccountAttributes (max-instances, vpc-max-elastic-ips); -1 =
 * unknown. `used`: vCPUs of pending/running standard-family instances, pending/running instances,
 * allocated addresses, security groups.
 */
export async function getQuotas(ctx: Ec2Context, auth: AuthItem): Promise<Quotas> {
  const region = auth.region || DEFAULT_REGION;
  const ec2 = ctx.client(region, auth);
  const sq = ctx.quotasClient(region, auth);
  const quota = async (q: { ServiceCode: string; QuotaCode: string }): Promise<number | undefined> => {
    try {
      const v = (await sq.send(new GetServiceQuotaCommand({ ...q }))).Quota?.Value;
      return typeof v === 'number' ? v : undefined;
    } catch (err) {
      ctx.logger.debug('Service Quotas unavailable, using the EC2 fallback', { quota: q.QuotaCode, code: errorCode(err) });
      return undefined;
    }
  };
  try {
    let cores = await quota(QUOTA_STANDARD_VCPUS);
    let eips = await quota(QUOTA_ELASTIC_IPS);
    const sgs = await quota(QUOTA_SECURITY_GROUPS);
    const attrs = await ec2.send(new DescribeAccountAttributesCommand({}));
    const attr = (name: string): number | undefined => {
      const v = attrs.AccountAttributes?.find((a) => a.AttributeName === name)?.AttributeValues?.[0]?.AttributeValue;
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
    };
    const maxInstances = attr('max-instances');
    cores ??= maxInstances;
    eips ??= attr('vpc-max-elastic-ips') ?? attr('max-elastic-ips');

    const instances: Instance[] = [];
    let token: string | undefined;
    do {
      const out: DescribeInstancesCommandOutput = await ec2.send(
        new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }], MaxResults: 1000, ...(token ? { NextToken: token } : {}) }),
      );
      for (const r of out.Reservations ?? []) instances.push(...(r.Instances ?? []));
      token = out.NextToken;
    } while (token);
    const usedCores = instances
      .filter((i) => STANDARD_FAMILY_RE.test(i.InstanceType ?? ''))
      .reduce((sum, i) => sum + (i.CpuOptions?.CoreCount && i.CpuOptions.ThreadsPerCore ? i.CpuOptions.CoreCount * i.CpuOptions.ThreadsPerCore : instanceTypeInfo(i.InstanceType ?? '')?.vcpus ?? 1), 0);
    const addresses = (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? [];
    let groups = 0;
    token = undefined;
    do {
      const out: DescribeSecurityGroupsCommandOutput = await ec2.send(new DescribeSecurityGroupsCommand({ MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
      groups += out.SecurityGroups?.length ?? 0;
      token = out.NextToken;
    } while (token);
    return {
      cores: { used: usedCores, limit: cores ?? -1 },
      instances: { used: instances.length, limit: maxInstances ?? -1 },
      floating_ips: { used: addresses.length, limit: eips ?? -1 },
      security_groups: { used: groups, limit: sgs ?? -1 },
    };
  } catch (err) {
    throw mapEc2Error(err, `Error getting the quotas of EC2 region ${region}`, authSecrets(auth));
  }
}
