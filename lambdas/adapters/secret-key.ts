/**
 * The service key (SECRET_KEY) of an AWS process: the option itself, or the Secrets Manager secret
 * SECRET_KEY_ARN read with the process's role (Lambda functions, the contextualization runner's task).
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError, type Config } from '#core/config';

type Env = Record<string, string | undefined>;

/** A Secrets Manager secret's string (GetSecretValue with the process's role). */
export async function secretString(config: Pick<Config, 'AWS_REGION'>, arn: string, what: string, client?: SecretsManagerClient): Promise<string> {
  const sm = client ?? new SecretsManagerClient({ region: config.AWS_REGION });
  const out = await sm.send(new GetSecretValueCommand({ SecretId: arn }));
  const secret = out.SecretString?.trim();
  if (!secret) throw new ConfigError(`The ${what} secret has no SecretString`);
  return secret;
}

/** SECRET_KEY, else the Secrets Manager secret SECRET_KEY_ARN. */
export async function secretKey(config: Pick<Config, 'AWS_REGION' | 'SECRET_KEY'>, env: Env, client?: SecretsManagerClient): Promise<string> {
  if (config.SECRET_KEY) return config.SECRET_KEY;
  if (!env.SECRET_KEY_ARN) throw new ConfigError('SECRET_KEY (or SECRET_KEY_ARN) must be set');
  return secretString(config, env.SECRET_KEY_ARN, 'SECRET_KEY', client);
}
