/**
 * The transport-neutral request/response of the REST layer. The Lambda handler builds a
 * {@link RestRequest} from the API Gateway proxy event (locally the HTTP adapter builds the same
 * event), and maps the {@link RestResponse} back to a proxy result.
 */
export interface RestRequest {
  /** Upper-case HTTP method. */
  method: string;
  /**
   * Path relative to the API root (stage and REST_ROOT_PATH removed), still percent-encoded,
   * always starting with `/`.
   */
  path: string;
  /** Query parameters (decoded; the first value when repeated). */
  query: Record<string, string>;
  /** Headers with lower-case names (repeated headers joined with `, `). */
  headers: Record<string, string>;
  /** Raw body bytes (empty when none). */
  body: Buffer;
  /** `<scheme>://<host>[:port][/stage][/root]` without trailing slash: absolute URIs start with it. */
  baseUrl: string;
}

export interface RestResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string | Buffer;
}
