/** Invalid configuration: carries every problem found, already formatted without secret values. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** A call to another service failed; keeps the HTTP status and the service's own error code. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  readonly service: string;
  readonly status: number | undefined;
  readonly code: string | number | undefined;
  constructor(
    service: string,
    message: string,
    opts: { status?: number; code?: string | number; cause?: unknown } = {},
  ) {
    super(`${service}: ${message}`, { cause: opts.cause });
    this.service = service;
    this.status = opts.status;
    this.code = opts.code;
  }
}

/** A job run was stopped through its abort signal (shutdown or timeout). */
export class JobAbortedError extends Error {
  override name = "JobAbortedError";
  constructor(job: string, reason?: unknown) {
    super(`job ${job} aborted${reason instanceof Error ? `: ${reason.message}` : ""}`, {
      cause: reason,
    });
  }
}

/** Turns any thrown value into a short human message, keeping the cause chain readable. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (cause: ${err.cause.message})` : "";
    return `${err.message}${cause}`;
  }
  return String(err);
}

/** A job finished its work but found a problem that makes the run a failure; keeps what it found. */
export class JobFailedError extends Error {
  override name = "JobFailedError";
  constructor(
    message: string,
    readonly summary: Record<string, unknown>,
  ) {
    super(message);
  }
}
