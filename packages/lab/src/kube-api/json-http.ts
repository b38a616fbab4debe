/** JSON request and response bodies, the only encoding the double speaks. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { ApiError } from "./errors.ts";
import { isObject, type Json, type JsonObject } from "./json.ts";

export async function readBody(req: IncomingMessage): Promise<Json | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch {
    // apply-patch+yaml is accepted in its JSON form only (what client-node sends).
    throw new ApiError(400, "BadRequest", `the request body is not valid JSON: ${text.slice(0, 80)}`);
  }
}

export function bodyObject(body: Json | undefined): JsonObject {
  if (!isObject(body)) throw new ApiError(400, "BadRequest", "the request body must be a JSON object");
  return body;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
