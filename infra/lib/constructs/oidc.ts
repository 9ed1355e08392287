/**
 * OidcClientSecret: where OIDC_CLIENT_SECRET lives in AWS (IM's option for introspecting opaque
 * tokens). Never in the CDK context: either an existing Secrets Manager secret named by the
 * `oidcClientSecretArn` context key, or a secret this stack creates (with a random placeholder
 * value to replace: `aws secretsmanager put-secret-value --secret-id <OidcClientSecretArn>
 * --secret-string <client secret>`). Only the REST and XML-RPC functions may read it.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from '../nag.ts';

export interface OidcClientSecretProps {
  /** An existing secret (its SecretString is the client secret). */
  readonly secretArn?: string;
  readonly removalPolicy: RemovalPolicy;
}

export class OidcClientSecret extends Construct {
  readonly secret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: OidcClientSecretProps) {
    super(scope, id);
    if (props.secretArn) {
      this.secret = secretsmanager.Secret.fromSecretCompleteArn(this, 'Imported', props.secretArn);
      return;
    }
    const secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'IM serverless: OIDC_CLIENT_SECRET (client secret for token introspection); replace the generated placeholder',
      generateSecretString: { passwordLength: 32, excludePunctuation: true, includeSpace: false },
      removalPolicy: props.removalPolicy,
    });
    acknowledge(secret, {
      id: 'AwsSolutions-SMG4',
      reason: 'The value is the client secret the OpenID provider issued; it is rotated at the provider and put here by the operator.',
    });
    this.secret = secret;
  }

  /** Read access for one function role (the API functions only). */
  grantRead(grantee: iam.IGrantable): void {
    this.secret.grantRead(grantee);
  }
}
