/**
 * REST API Lambda (API Gateway REST v1 proxy events), also what local mode's HTTP adapter calls.
 * Thin: event → RestRequest → router (→ use case) → proxy result. Nothing thrown here reaches
 * the client as a stack trace: a failure before routing answers 500 with the generic message.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { GENERIC_INTERNAL_MESSAGE } from '#core/errors';
import { getServices } from '#handlers/bootstrap';
import { restRequestFromEvent, toProxyResult } from '#api/rest/event';
import { handleRestRequest } from '#api/rest/router';

async function handleEvent(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  let services;
  try {
    services = await getServices();
  } catch (err) {
    console.error(JSON.stringify({ level: 'ERROR', msg: 'Cannot build the services', error: err instanceof Error ? err.message : String(err) }));
    return { statusCode: 500, headers: { 'Content-Type': 'text/plain' }, body: GENERIC_INTERNAL_MESSAGE };
  }
  const res = await handleRestRequest(services, restRequestFromEvent(event, services.config));
  return toProxyResult(res);
}

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>().handler(handleEvent);
