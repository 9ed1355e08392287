/**
 * Local mode's XML-RPC server: XMLRCP_ADDRESS:XMLRCP_PORT (default 127.0.0.1:8899), through the
 * same API-Gateway-event adapter as REST (lambdas/local/http-adapter.ts), calling the same
 * handler as the Lambda (lambdas/handlers/xmlrpc.ts).
 *
 * Like IM's SimpleXMLRPCServer (`rpc_paths = ('/', '/RPC2')`), it answers on `/` and `/RPC2`
 * only; any other path is a 404. In AWS the API Gateway route plays that part.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { handler as xmlrpcHandler } from '#handlers/xmlrpc';
import { startHttpServer, type ProxyHandler } from '#local/http-adapter';
import type { FrontEnd, FrontEndContext } from '#local/server';

/** The paths IM's XML-RPC server answered on. */
export const XMLRPC_PATHS: readonly string[] = ['/', '/RPC2'];

/** The name startLocal reports the URL under (`npm start` prints `IM XML-RPC API listening on …`). */
export const XMLRPC_FRONT_END = 'XML-RPC API';

const NOT_FOUND: APIGatewayProxyResult = { statusCode: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'No such page' };

/** The Lambda handler behind the local route table (`/`, `/RPC2`). */
export const localXmlRpcHandler: ProxyHandler = async (event, context) =>
  XMLRPC_PATHS.includes(event.path) ? xmlrpcHandler(event, context) : NOT_FOUND;

export interface XmlRpcServerOptions {
  /** Overrides XMLRCP_ADDRESS. */
  host?: string;
  /** Overrides XMLRCP_PORT (0 = a free port). */
  port?: number;
}

/** A local-mode front end (LocalOptions.frontEnds) serving XML-RPC. */
export function xmlrpcFrontEnd(opts: XmlRpcServerOptions = {}): (ctx: FrontEndContext) => Promise<FrontEnd> {
  return async ({ config }) => {
    const server = await startHttpServer(localXmlRpcHandler, {
      host: opts.host ?? config.XMLRCP_ADDRESS,
      port: opts.port ?? config.XMLRCP_PORT,
      maxBodySize: config.MAX_BODY_SIZE,
      functionName: 'im-xmlrpc-local',
    });
    return { name: XMLRPC_FRONT_END, url: server.url, stop: () => server.close() };
  };
}
