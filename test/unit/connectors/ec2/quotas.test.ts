/**
 * The EC2 connector against the mocked EC2 API (mock-ec2.ts). getQuotas: limits from Service Quotas with the EC2
 * fallback, usage counted from the account.
 */
import {
  DescribeAccountAttributesCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
} from '@aws-sdk/client-ec2';
import { GetServiceQuotaCommand, ServiceQuotasClient, ServiceQuotasServiceException } from '@aws-sdk/client-service-quotas';
import { describe, expect, it } from 'vitest';
import { AUTH, connector, ec2Error, ec2Mock, input, instance, rejection, sqMock, useMockCloud } from './mock-ec2.ts';

useMockCloud();

describe('getQuotas', () => {
  function usage() {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [instance({ InstanceType: 'm5.xlarge', CpuOptions: { CoreCount: 2, ThreadsPerCore: 2 } }), instance({ InstanceId: 'i-2', InstanceType: 't3.micro' })] },
        { Instances: [instance({ InstanceId: 'i-3', InstanceType: 'g4dn.xlarge' })] },
      ],
    });
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'a1' }, { AllocationId: 'a2' }] });
    ec2Mock.on(DescribeSecurityGroupsCommand).resolvesOnce({ SecurityGroups: [{ GroupId: 'sg-1' }, { GroupId: 'sg-2' }], NextToken: 'next' }).resolves({ SecurityGroups: [{ GroupId: 'sg-3' }] });
    ec2Mock.on(DescribeAccountAttributesCommand).resolves({
      AccountAttributes: [
        { AttributeName: 'max-instances', AttributeValues: [{ AttributeValue: '20' }] },
        { AttributeName: 'vpc-max-elastic-ips', AttributeValues: [{ AttributeValue: '5' }] },
        { AttributeName: 'supported-platforms', AttributeValues: [{ AttributeValue: 'VPC' }] },
      ],
    });
  }

  it('reads limits from Service Quotas and computes the usage', async () => {
    usage();
    sqMock.on(GetServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' }).resolves({ Quota: { QuotaCode: 'L-1216C47A', Value: 1152 } });
    sqMock.on(GetServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: 'L-0263D0A3' }).resolves({ Quota: { QuotaCode: 'L-0263D0A3', Value: 10 } });
    sqMock.on(GetServiceQuotaCommand, { ServiceCode: 'vpc', QuotaCode: 'L-E79EC296' }).resolves({ Quota: { QuotaCode: 'L-E79EC296', Value: 2500 } });
    const q = await connector().getQuotas({ ...AUTH, region: 'eu-central-1' });
    expect(q).toEqual({
      cores: { used: 6, limit: 1152 },
      instances: { used: 3, limit: 20 },
      floating_ips: { used: 2, limit: 10 },
      security_groups: { used: 3, limit: 2500 },
    });
    expect(sqMock.commandCalls(GetServiceQuotaCommand).map((c) => c.args[0].input)).toEqual([
      { ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' },
      { ServiceCode: 'ec2', QuotaCode: 'L-0263D0A3' },
      { ServiceCode: 'vpc', QuotaCode: 'L-E79EC296' },
    ]);
    expect(input(DescribeInstancesCommand)).toEqual({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }], MaxResults: 1000 });
    expect(input(DescribeSecurityGroupsCommand, 1)).toEqual({ MaxResults: 1000, NextToken: 'next' });
    expect(await (sqMock.call(0).thisValue as ServiceQuotasClient).config.region()).toBe('eu-central-1');
  });

  it('falls back to DescribeAccountAttributes when Service Quotas is not available', async () => {
    usage();
    sqMock.on(GetServiceQuotaCommand).rejects(new ServiceQuotasServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: {}, message: 'denied' }));
    const q = await connector().getQuotas(AUTH);
    expect(q).toEqual({
      cores: { used: 6, limit: 20 },
      instances: { used: 3, limit: 20 },
      floating_ips: { used: 2, limit: 5 },
      security_groups: { used: 3, limit: -1 },
    });
  });

  it('reports rejected credentials', async () => {
    sqMock.on(GetServiceQuotaCommand).rejects(new ServiceQuotasServiceException({ name: 'UnrecognizedClientException', $fault: 'client', $metadata: {}, message: 'x' }));
    ec2Mock.on(DescribeAccountAttributesCommand).rejects(ec2Error('AuthFailure'));
    expect(await rejection(connector().getQuotas(AUTH))).toMatchObject({ code: 'BAD_REQUEST', message: 'EC2 credentials rejected: AuthFailure' });
  });
});
