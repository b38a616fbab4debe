/** The request log tests read to see what a client asked for, and what it was answered. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Json } from "./json.ts";
import { type Subresource, typeKey } from "./resources.ts";
import type { Target, Verb } from "./routing.ts";

export interface RequestLogEntry {
  readonly seq: number;
  /** Wall clock (ms) when the request arrived. */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  /** The client's address and port, as `ip:port`: requests over one kept-alive connection share it. */
  readonly client: string;
  readonly verb?: Verb;
  /** `group/version/plural` of the resource addressed, e.g. "/v1/nodes". */
  readonly resource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly subresource?: Subresource;
  readonly contentType?: string;
  body?: Json;
  status: number;
}

export class RequestLog {
  #seq = 0;
  readonly #entries: RequestLogEntry[] = [];

  /** Log a request as it arrives; its status follows the response. */
  add(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    target: Target | undefined,
    verb: Verb | undefined,
    contentType: string | undefined,
  ): RequestLogEntry {
    const entry: RequestLogEntry = {
      seq: ++this.#seq,
      at: Date.now(),
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      client: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      ...(verb === undefined ? {} : { verb }),
      ...(target === undefined ? {} : { resource: typeKey(target.type), subresource: target.subresource }),
      ...(target?.name === undefined ? {} : { name: target.name }),
      ...(target?.namespace === undefined ? {} : { namespace: target.namespace }),
      ...(contentType === undefined ? {} : { contentType }),
      // 200 until the response finishes: an open watch has sent its 200 but never finishes.
      status: 200,
    };
    this.#entries.push(entry);
    res.on("finish", () => {
      entry.status = res.statusCode;
    });
    return entry;
  }

  entries(filter?: (entry: RequestLogEntry) => boolean): RequestLogEntry[] {
    return filter === undefined ? [...this.#entries] : this.#entries.filter(filter);
  }

  clear(): void {
    this.#entries.length = 0;
  }
}
