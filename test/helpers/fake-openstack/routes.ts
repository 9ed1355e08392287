/** Route table helpers and error bodies of the fake OpenStack. */
import type http from 'node:http';
import type { FakeState, J, Token } from './state.ts';

export interface Ctx {
  method: string;
  path: string;
  params: string[];
  query: URLSearchParams;
  body: J;
  headers: http.IncomingHttpHeaders;
  token?: Token;
  /** Compute microversion asked (`OpenStack-API-Version: compute X.Y`), as a number (2.1 default). */
  microversion: number;
  baseUrl: string;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (s: FakeState, c: Ctx) => Reply;
export interface Route {
  method: string;
  re: RegExp;
  auth: boolean;
  handler: Handler;
}

export const route = (method: string, pattern: string, handler: Handler, auth = true): Route => ({ method, re: new RegExp(`^${pattern}$`), auth, handler });

/** Nova/Cinder style error bodies. */
export const novaError = (status: number, key: string, message: string): Reply => ({ status, body: { [key]: { code: status, message } } });
export const neutronError = (status: number, type: string, message: string): Reply => ({ status, body: { NeutronError: { type, message, detail: '' } } });

