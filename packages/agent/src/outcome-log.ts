/**
 * SPEC §3.12: bad input and faults are reported in the log too, not only in status and
 * Events. This sink logs, on transitions only, a Route refused as a whole, a destination
 * refused (invalid, conflicting) or failed in the kernel and its recovery, and a gateway
 * going down and coming back. Nothing is logged per report, and a Route or gateway that
 * leaves the table is forgotten. Fail-static has its own lines (fail-static.ts).
 */
import type { DesiredTable, DestinationState } from "@kroute/core";
import type { Logger } from "./log.ts";
import type { StatusSink } from "./runtime/status.ts";

const PROBLEMS: ReadonlySet<DestinationState> = new Set(["invalid", "conflicted", "failed"]);

interface Problem {
  readonly state: DestinationState;
  readonly reason: string;
}

export function outcomeLog(log: Logger): StatusSink {
  /** Refused Routes: the message last logged. */
  let refused = new Map<string, string>();
  /** Destinations with a problem, by route and destination: the one last logged. */
  let problems = new Map<string, Problem>();
  /** Gateways last seen down. */
  let down = new Set<string>();

  return {
    update(table: DesiredTable) {
      const nextRefused = new Map<string, string>();
      const nextProblems = new Map<string, Problem>();
      for (const outcome of table.outcomes) {
        // A Route refused before any destination was looked at (validation, selector).
        if (!outcome.accepted && outcome.destinations.length === 0) {
          const message = outcome.message ?? outcome.reason ?? "invalid";
          if (refused.get(outcome.route) !== message) {
            log.warn(
              { route: outcome.route, generation: outcome.generation, reason: outcome.reason, message },
              "Route %s refused: %s",
              outcome.route,
              message,
            );
          }
          nextRefused.set(outcome.route, message);
          continue;
        }
        if (refused.has(outcome.route)) {
          log.info(
            { route: outcome.route, generation: outcome.generation },
            "Route %s accepted",
            outcome.route,
          );
        }
        if (!outcome.selected) continue;
        for (const d of outcome.destinations) {
          const key = JSON.stringify([d.route, d.destination]);
          const before = problems.get(key);
          const fields = { route: d.route, destination: d.destination, state: d.state };
          if (PROBLEMS.has(d.state)) {
            const problem = { state: d.state, reason: d.reason ?? d.state };
            if (before?.state !== problem.state || before.reason !== problem.reason) {
              log.warn(
                { ...fields, reason: problem.reason },
                "Route %s: destination %s %s: %s",
                d.route,
                d.destination,
                problem.state,
                problem.reason,
              );
            }
            nextProblems.set(key, problem);
          } else if (before !== undefined && d.state === "pending") {
            // On its way: the recovery is logged once it is in.
            nextProblems.set(key, before);
          } else if (before !== undefined) {
            log.info(
              { ...fields, was: before.state },
              "Route %s: destination %s %s (was %s)",
              d.route,
              d.destination,
              d.state,
              before.state,
            );
          }
        }
      }
      const nextDown = new Set<string>();
      for (const g of table.gateways) {
        if (g.state === "down") {
          if (!down.has(g.gateway)) {
            log.warn(
              { gateway: g.gateway, usedBy: g.usedBy },
              "gateway %s is down: taken out of its routes",
              g.gateway,
            );
          }
          nextDown.add(g.gateway);
        } else if (g.state === "up" && down.has(g.gateway)) {
          log.info({ gateway: g.gateway, rttMs: g.rttMs }, "gateway %s is up again", g.gateway);
        } else if (down.has(g.gateway)) {
          nextDown.add(g.gateway);
        }
      }
      refused = nextRefused;
      problems = nextProblems;
      down = nextDown;
    },
  };
}
