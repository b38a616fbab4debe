import { describe, expect, it } from "vitest";
import { kubeFailureLog, STATUS_FAILURE_LOG_INTERVAL_MS } from "../../src/runtime/kube-failure-log.ts";
import { capturedLog } from "./harness.ts";

describe("kubeFailureLog", () => {
  it("logs each kind of failed status write at once, then at most once a minute with the count left out", () => {
    const log = capturedLog();
    let now = 0;
    const failures = kubeFailureLog(log.logger, () => now);
    for (const route of ["a", "b", "c"]) failures.statusWriteFailed("Route status", route, new Error("503"));
    failures.statusWriteFailed("NodeRouteTable", "node-a", new Error("403"));
    now = STATUS_FAILURE_LOG_INTERVAL_MS;
    failures.statusWriteFailed("Route status", "d", new Error("503"));
    expect(log.lines().map((l) => [l.kind, l.subject, l.unloggedFailures])).toEqual([
      ["Route status", "a", 0],
      ["NodeRouteTable", "node-a", 0],
      ["Route status", "d", 2],
    ]);
  });

  it("logs a failed watch as a warning with its error, an expired one as news", () => {
    const log = capturedLog();
    const failures = kubeFailureLog(log.logger);
    failures.watchRestarted("node", "error", new Error("connect ECONNREFUSED 10.96.0.1:443"));
    failures.watchRestarted("routes", "stalled");
    failures.watchRestarted("routes", "expired");
    expect(log.lines().map((l) => [l.level, l.msg])).toEqual([
      [40, "Kubernetes node list or watch failed, retrying: Error: connect ECONNREFUSED 10.96.0.1:443"],
      [40, "Kubernetes routes watch went silent: restarting it"],
      [30, "Kubernetes routes watch expired (410 Gone): listing again"],
    ]);
  });
});
