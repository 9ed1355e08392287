/**
 * cdk-nag 3 acknowledgements. cdk-nag 3 runs as a CDK validation plugin
 * (`Validations.of(app).addPlugins(new AwsSolutionsChecks(app))`) and reads the acknowledgements
 * that `Validations.of(construct).acknowledge()` records on the construct or one of its parents.
 * Every acknowledgement here carries a specific reason.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';

export interface NagAcknowledgement {
  /** Rule id, e.g. `AwsSolutions-SMG4` or a finding id `AwsSolutions-IAM5[Resource::*]`. */
  readonly id: string;
  /** Why the finding is accepted; specific to this resource. */
  readonly reason: string;
}

const MIN_REASON_LENGTH = 40;

/** Records acknowledgements on `scope` (they apply to it and to everything below it). */
export function acknowledge(scope: IConstruct, ...acks: NagAcknowledgement[]): void {
  for (const ack of acks) {
    if (ack.reason.trim().length < MIN_REASON_LENGTH) {
      throw new Error(`cdk-nag acknowledgement ${ack.id} on ${scope.node.path} needs a specific reason`);
    }
  }
  Validations.of(scope).acknowledge(...acks);
}

/**
 * Acknowledges AwsSolutions-IAM5 for one wildcard resource in the policies of `scope`. The finding
 * id is the resource flattened the way cdk-nag prints it (`<Logical.Arn>/index/*`), so that only
 * this very resource is accepted, not any other wildcard.
 */
export function acknowledgeWildcardResource(scope: IConstruct, resourceArn: string, reason: string): void {
  const flattened = flattenCfnReference(Stack.of(scope).resolve(resourceArn));
  acknowledge(scope, { id: `AwsSolutions-IAM5[Resource::${flattened}]`, reason });
}
