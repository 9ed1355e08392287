import { describe, expect, it } from 'vitest';
import { configSchema, loadConfig } from '#core/config';
import {
  InfraConfigError,
  MANAGED_IM_OPTIONS,
  loadInfraConfig,
  settableImOptions,
  toEnvironmentValue,
} from '../../infra/lib/config.ts';
import { cdkJsonContext } from './helpers.ts';

const errorOf = (context: Record<string, unknown>): string => {
  try {
    loadInfraConfig(context);
  } catch (e) {
    expect(e).toBeInstanceOf(InfraConfigError);
    return (e as Error).message;
  }
  throw new Error('expected loadInfraConfig to fail');
};

describe('infra config (cdk.json context and -c overrides)', () => {
  it('has defaults for everything', () => {
    const c = loadInfraConfig({});
    expect(c).toMatchObject({
      stackName: 'ImServerless',
      removalPolicy: 'retain',
      purgeSchedule: 'rate(1 day)',
      throttlingRateLimit: 50,
      throttlingBurstLimit: 100,
      logRetentionDays: 30,
      runnerArchitecture: 'x86_64',
    });
    expect(c.tableName).toBeUndefined();
    expect(c.account).toBeUndefined();
    expect(c.purgeBefore).toBeUndefined();
    expect(c.im).toEqual(configSchema.parse({}));
    expect(c.imEnvironment).toEqual({});
  });

  it('reads cdk.json, which is valid and ignores the CDK feature flags', () => {
    const c = loadInfraConfig(cdkJsonContext());
    expect(c.stackName).toBe('ImServerless');
    expect(c.imEnvironment).toMatchObject({ MAX_SIMULTANEOUS_LAUNCHES: '5', LOG_LEVEL: 'INFO' });
    expect(Object.keys(c.imEnvironment).every((k) => /^[A-Z][A-Z0-9_]*$/.test(k))).toBe(true);
  });

  it('accepts -c strings (what the CLI passes) and coerces them', () => {
    const c = loadInfraConfig({
      removalPolicy: 'destroy',
      throttlingRateLimit: '10',
      throttlingBurstLimit: '20',
      logRetentionDays: '90',
      purgeSchedule: 'cron(0 3 * * ? *)',
      purgeBefore: '2024-01-31',
      account: '123456789012',
      region: 'eu-west-1',
      availabilityZones: 'eu-west-1a,eu-west-1b',
      MAX_VM_FAILS: '7',
      ENABLE_CORS: 'true',
      PRIVATE_NET_MASKS: '10.0.0.0/8, 192.168.0.0/16',
    });
    expect(c).toMatchObject({
      removalPolicy: 'destroy',
      throttlingRateLimit: 10,
      throttlingBurstLimit: 20,
      logRetentionDays: 90,
      purgeBefore: '2024-01-31',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    });
    expect(c.im.MAX_VM_FAILS).toBe(7);
    expect(c.im.ENABLE_CORS).toBe(true);
    expect(c.imEnvironment).toEqual({
      MAX_VM_FAILS: '7',
      ENABLE_CORS: 'true',
      PRIVATE_NET_MASKS: '10.0.0.0/8,192.168.0.0/16',
    });
  });

  it('passes on only the IM options that are set, in a form loadConfig reads back identically', () => {
    const context = {
      ADMIN_USER: { username: 'admin', password: 'secret' },
      OIDC_ADMIN_GROUPS: [{ issuer: 'https://aai.egi.eu/', group: 'admins' }],
      OIDC_ISSUERS: ['https://aai.egi.eu/auth/realms/egi'],
      VERIFI_SSL: true,
      WAIT_SSH_ACCCESS_TIMEOUT: 600,
      LOG_LEVEL: 'DEBUG',
      DELETED_RETENTION_DAYS: 7,
    };
    const c = loadInfraConfig(context);
    expect(Object.keys(c.imEnvironment).sort()).toEqual(Object.keys(context).sort());
    expect(Object.values(c.imEnvironment).every((v) => typeof v === 'string')).toBe(true);
    expect(loadConfig(c.imEnvironment)).toEqual(c.im);
  });

  it('fails with every problem named: bad values, typos, managed options', () => {
    const message = errorOf({
      MAX_SIMULTANEOUS_LAUNCHES: 0,
      LOG_LEVEL: 'LOUD',
      MAX_VM_FAIL: 3,
      TABLE_NAME: 'x',
      removalPolicy: 'keep',
      purgeSchedule: 'every day',
      removalPolcy: 'retain',
      logRetentionDays: 31,
    });
    expect(message).toMatch(/^Invalid CDK context/);
    expect(message).toContain('MAX_SIMULTANEOUS_LAUNCHES:');
    expect(message).toContain('LOG_LEVEL:');
    expect(message).toContain('MAX_VM_FAIL: unknown IM option (did you mean MAX_VM_FAILS?)');
    expect(message).toContain('TABLE_NAME: cannot be set here');
    expect(message).toContain('removalPolicy:');
    expect(message).toContain("purgeSchedule: expected an EventBridge schedule expression such as 'rate(1 day)'");
    expect(message).toContain('removalPolcy: unknown setting (did you mean removalPolicy?)');
    expect(message).toContain('logRetentionDays: expected one of 1, 3, 5');
  });

  it('checks the limits of API Gateway and the coherence of settings', () => {
    expect(errorOf({ MAX_BODY_SIZE: 11 * 1024 * 1024 })).toContain("MAX_BODY_SIZE: must not exceed API Gateway's payload limit");
    expect(errorOf({ SYNC_WAIT_SECONDS: 28 })).toContain('SYNC_WAIT_SECONDS: must be below 28 s');
    expect(errorOf({ account: '123456789012' })).toContain('account/region: set both or neither');
    expect(errorOf({ throttlingRateLimit: 100, throttlingBurstLimit: 10 })).toContain('throttlingBurstLimit: must be at least');
    expect(errorOf({ purgeBefore: '2024-02-30' })).toContain('purgeBefore: expected a day as YYYY-MM-DD');
    expect(errorOf({ stackName: '1bad_name' })).toContain('stackName:');
    expect(errorOf({ availabilityZones: 'eu-west-1a' })).toContain('availabilityZones: expected exactly two');
    expect(errorOf({ ADMIN_USER: '{not json' })).toContain('ADMIN_USER: invalid JSON');
    expect(errorOf({ runnerImageUri: 'im-runner' })).toContain('runnerImageUri: expected an image URI with a tag or digest');
    expect(loadInfraConfig({ runnerImageUri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/im-runner:1.0' }).runnerImageUri).toBe(
      '123456789012.dkr.ecr.eu-west-1.amazonaws.com/im-runner:1.0',
    );
  });

  it('lets every IM option be set except those the deployment manages', () => {
    const settable = settableImOptions();
    for (const key of Object.keys(MANAGED_IM_OPTIONS)) {
      expect(Object.keys(configSchema.shape)).toContain(key);
      expect(settable).not.toContain(key);
    }
    expect(settable).toEqual(expect.arrayContaining(['MAX_SIMULTANEOUS_LAUNCHES', 'DELETED_RETENTION_DAYS', 'ENABLE_CORS']));
    expect(settable.length + Object.keys(MANAGED_IM_OPTIONS).length).toBe(Object.keys(configSchema.shape).length);
  });

  it('serializes values as the environment expects them', () => {
    expect(toEnvironmentValue('a')).toBe('a');
    expect(toEnvironmentValue(3)).toBe('3');
    expect(toEnvironmentValue(false)).toBe('false');
    expect(toEnvironmentValue(['a', 'b'])).toBe('a,b');
    expect(toEnvironmentValue([{ a: 1 }])).toBe('[{"a":1}]');
  });
});
