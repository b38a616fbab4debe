/** The one field manager every kroute agent writes with, so agents never conflict with each other. */
export const FIELD_MANAGER = "kroute-agent";

export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === "number") return e.code;
  return typeof e.statusCode === "number" ? e.statusCode : undefined;
}
