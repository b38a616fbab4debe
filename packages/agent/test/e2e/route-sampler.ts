/**
 * `ip route get` asked again and again, for as long as a test needs, by one `ip -batch`
 * process fed a round of lookups every few milliseconds: for asserting that a flow had a
 * way at every moment of a span of time (a handover), which the tables read before and
 * after cannot show, and `ip monitor` cannot either (Linux flushes the routes of a deleted
 * nexthop without a word).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Netns } from "@kroute/lab";

/** One lookup: a destination, and a source address when the source decides (policy rules). */
export interface Lookup {
  readonly dst: string;
  readonly from?: string;
}

export interface RouteSampler {
  /** Stops asking; resolves with every answer per lookup (its gateway, its device when on-link, or the error). */
  stop(): Promise<{ rounds: number; answers: Map<string, string[]> }>;
}

interface IpRouteGet {
  gateway?: string;
  via?: { host: string };
  dev?: string;
}

export function lookupName(lookup: Lookup): string {
  return lookup.from === undefined ? lookup.dst : `${lookup.dst} from ${lookup.from}`;
}

/** Starts sampling `lookups` in `ns`, a round every `everyMs`. */
export function sampleRoutes(ns: Netns, lookups: readonly Lookup[], everyMs = 5): RouteSampler {
  // -force: a lookup that fails (no route) is an answer to record, not the end of the batch.
  const child: ChildProcess = spawn("ip", ["-n", ns.name, "-j", "-force", "-batch", "-"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let output = "";
  let errors = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    errors += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = lookups.map((l) => `route get ${l.dst}${l.from === undefined ? "" : ` from ${l.from}`}\n`);
  let rounds = 0;
  const timer = setInterval(() => {
    rounds += 1;
    child.stdin?.write(lines.join(""));
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      child.stdin?.end();
      await exited;
      // One JSON array per lookup, in the order asked; a failed lookup prints nothing on
      // stdout and its error on stderr, so errors are counted apart.
      const answers = new Map<string, string[]>(lookups.map((l) => [lookupName(l), []]));
      const printed = output.split("\n").filter((line) => line.startsWith("["));
      if (errors.trim() !== "") {
        answers.set("errors", errors.trim().split("\n"));
      }
      printed.forEach((line, index) => {
        const lookup = lookups[index % lookups.length] as Lookup;
        const [hop] = JSON.parse(line) as IpRouteGet[];
        const answer = hop?.gateway ?? hop?.via?.host ?? `dev ${hop?.dev}`;
        answers.get(lookupName(lookup))?.push(answer);
      });
      return { rounds, answers };
    },
  };
}
