/**
 * REST API Lambda (API Gateway REST v1 proxy events), also what local mode's HTTP adapter calls.
 * Thin: event → RestRequest → router (→ one use case) → proxy result. The router maps every error
 * through the one error table; nothing thrown reaches the client as a stack trace.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { Services } from '#core/types';
import { restRequestFromEvent, toProxyResult } from '#api/rest/event';
import { handleRestRequest } from '#api/rest/router';
import { INIT_FAILURE, lambdaEntry } from '#handlers/aws';
import { withLogContext } from '#handlers/log-context';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: import('aws-lambda').Context) => Promise<APIGatewayProxyResult>;

/** The REST handler over the given services (built once per entry point). */
export function createRestHandler(services: Services): ProxyHandler {
  return withLogContext(
    middy<APIGatewayProxyEvent, APIGatewayProxyResult>().handler(async (event) =>
      toProxyResult(await handleRestRequest(services, restRequestFromEvent(event, services.config))),
    ),
  );
}

/** Lambda entry point: the AWS services, built on the first invocation. */
export const handler = lambdaEntry(createRestHandler, () => INIT_FAILURE);
