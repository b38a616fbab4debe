/** An API error, answered as a metav1.Status with the same code, reason and message a real server uses. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;

  constructor(code: number, reason: string, message: string) {
    super(message);
    this.code = code;
    this.reason = reason;
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
  }
}

export function notFound(what: string, name: string): ApiError {
  return new ApiError(404, "NotFound", `${what} "${name}" not found`);
}
