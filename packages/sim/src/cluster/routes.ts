/**
 * The Routes a cluster in a box applies: the SPEC's seed examples adapted to the
 * box's addresses (ECMP over two gateways for one pool, a single-gateway Route for
 * every node, a default-route override for the other pool), or Routes from YAML files.
 */
import { readFileSync } from "node:fs";
import { formatIssue, type RouteObject, validateRoute } from "@kroute/core";
import { parseAllDocuments } from "yaml";
import { systemErrorCode, unreadable } from "../unreadable.ts";
import { ECHO, gatewayAddress, POOLS } from "./topology.ts";

export const POOL_LABEL = "doks.digitalocean.com/node-pool";
const API_VERSION = "networking.kroute.dev/v1alpha1";

function poolSelector(pool: string) {
  return { nodeSelectorTerms: [{ matchExpressions: [{ key: POOL_LABEL, operator: "In", values: [pool] }] }] };
}

export function defaultRoutes(gateways: number): RouteObject[] {
  const gw = (i: number): string => gatewayAddress(Math.min(i, gateways));
  const ecmp = [...new Set([gw(1), gw(2)])];
  const route = (name: string, spec: Record<string, unknown>): RouteObject => ({
    apiVersion: API_VERSION,
    kind: "Route",
    metadata: { name, generation: 1, creationTimestamp: "2026-01-01T00:00:00Z" },
    spec,
  });
  return [
    // SPEC's first example: host bits set on purpose (normalised to 203.0.113.0/24, with a warning).
    route("basic", {
      destinations: [`${ECHO.basic}/24`],
      gateways: ecmp,
      nodeSelector: poolSelector(POOLS[0]),
    }),
    route("single", { destinations: ["198.51.100.0/24"], gateways: [gw(3)] }),
    route("egress", { destinations: ["0.0.0.0/0"], gateways: ecmp, nodeSelector: poolSelector(POOLS[1]) }),
  ];
}

/**
 * Route objects from YAML files (multi-document); anything else is refused, naming file
 * and document. Each Route is validated as the agent validates it: one the agent would
 * refuse whole (a gateway that is not an address, no valid destination) is refused here,
 * naming the field and value, since the run would otherwise program nothing for it and
 * still report every check held; a destination the agent would skip, or a value it
 * would normalise, is passed to `warn` and the Route is applied as the agent would.
 */
/** A ROUTES.yaml's text; one that cannot be read is named, with the reason. */
function readRoutesFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const code = systemErrorCode(error);
    if (code === undefined) throw error;
    throw new Error(unreadable("ROUTES.yaml", path, code));
  }
}

export function routesFromYaml(paths: readonly string[], warn: (message: string) => void): RouteObject[] {
  const routes: RouteObject[] = [];
  const seen = new Map<string, string>();
  for (const path of paths) {
    const before = routes.length;
    const docs = parseAllDocuments(readRoutesFile(path));
    docs.forEach((doc, i) => {
      const where = `${path}: document ${i + 1}`;
      if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0]?.message}`);
      const value = doc.toJS() as unknown;
      if (value === null || value === undefined) return;
      const object = value as { kind?: unknown; metadata?: { name?: unknown }; spec?: unknown };
      if (object.kind !== "Route")
        throw new Error(`${where}: kind is ${JSON.stringify(object.kind)}, not "Route"`);
      if (typeof object.metadata?.name !== "string") throw new Error(`${where}: metadata.name is missing`);
      const name = object.metadata.name;
      // A second Route of the same name would replace the first in the API, unseen.
      const first = seen.get(name);
      if (first !== undefined)
        throw new Error(`${where}: a Route named ${JSON.stringify(name)} is already in ${first}`);
      seen.set(name, where);
      const validation = validateRoute(value as RouteObject);
      if (!validation.ok)
        throw new Error(
          `${where}: Route ${JSON.stringify(name)} would be refused by the agent: ${validation.issues.map(formatIssue).join("; ")}`,
        );
      for (const issue of [...validation.route.issues, ...validation.route.warnings])
        warn(`${where}: Route ${JSON.stringify(name)}: ${formatIssue(issue)}`);
      routes.push(value as RouteObject);
    });
    // A file named but holding no Route (all commented out, the wrong file) would run the box empty.
    if (routes.length === before) throw new Error(`${path}: no Route in it`);
  }
  return routes;
}
