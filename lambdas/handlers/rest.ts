/**
 * REST API Lambda (API Gateway REST v1 proxy events), also what local mode's HTTP adapter calls.
 * Thin: event → RestRequest → router (→ use case) → proxy result. Nothing thrown here reaches
 * the client as a stack trace: a failure before routing answers 500 with the generic message.
 *
 * Synchronous as long as nothing needs waiting for (services already built, an endpoint that
 * answers at once, e.g. GET /version): no promise of ours on that path; middy takes either.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { GENERIC_INTERNAL_MESSAGE } from '#core/errors';
import type { Services } from '#core/types';
import { currentServices } from '#handlers/bootstrap';
import { restRequestFromEvent, toProxyResult } from '#api/rest/event';
import { handleRestRequest } from '#api/rest/router';

function servicesFailure(err: unknown): APIGatewayProxyResult {
  console.error(JSON.stringify({ level: 'ERROR', msg: 'Cannot build the services', error: err instanceof Error ? err.message : String(err) }));
  return { statusCode: 500, headers: { 'Content-Type': 'text/plain' }, body: GENERIC_INTERNAL_MESSAGE };
}

/** A promise (or other thenable) rather than a value. */
function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as Partial<PromiseLike<T>>).then === 'function';
}

function handleWith(services: Services, event: APIGatewayProxyEvent): APIGatewayProxyResult | Promise<APIGatewayProxyResult> {
  const res = handleRestRequest(services, restRequestFromEvent(event, services.config));
  return res instanceof Promise ? res.then(toProxyResult) : toProxyResult(res);
}

function handleEvent(event: APIGatewayProxyEvent): APIGatewayProxyResult | Promise<APIGatewayProxyResult> {
  let services: Services | Promise<Services>;
  try {
    services = currentServices();
  } catch (err) {
    return servicesFailure(err);
  }
  if (isThenable(services)) return Promise.resolve(services).then((s) => handleWith(s, event), servicesFailure);
  return handleWith(services, event);
}

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>().handler(handleEvent);
