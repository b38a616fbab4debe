/** An API error, answered as a metav1.Status with the same code, reason and message a real server uses. */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  /**
   * Sent as the Retry-After header and as details.retryAfterSeconds, as the API server
   * does when it sheds load (429 from API Priority and Fairness, 503 while it starts).
   */
  readonly retryAfterSeconds: number | undefined;
  /** details.causes, e.g. ResourceVersionTooLarge, which clients tell apart from other timeouts by. */
  readonly causes: readonly { readonly type: string; readonly message: string }[] | undefined;

  constructor(
    code: number,
    reason: string,
    message: string,
    retryAfterSeconds?: number,
    causes?: readonly { readonly type: string; readonly message: string }[],
  ) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.retryAfterSeconds = retryAfterSeconds;
    this.causes = causes;
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.retryAfterSeconds === undefined && this.causes === undefined
        ? {}
        : {
            details: {
              ...(this.causes === undefined ? {} : { causes: this.causes }),
              ...(this.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: this.retryAfterSeconds }),
            },
          }),
      code: this.code,
    };
  }

  headers(): Record<string, string> {
    return this.retryAfterSeconds === undefined ? {} : { "retry-after": String(this.retryAfterSeconds) };
  }
}

export function notFound(what: string, name: string): ApiError {
  return new ApiError(404, "NotFound", `${what} "${name}" not found`);
}
