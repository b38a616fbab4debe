/**
 * SPEC §2: a NodeRouteTable is "written only by that node's agent". The chart's
 * admission policy enforces it, with the node the agent's pod-bound token names.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { DOKS_GROUP, KROUTE_GROUP } from "../../src/deploy/chart.ts";
import { type AdmissionRequest, chartAdmission } from "./admission-policy.ts";

const crdFile = join(
  resolve(import.meta.dirname, "../../../.."),
  "deploy/helm/kroute/crds/networking.kroute.dev.yaml",
);
/** The NodeRouteTable's plural and version as its CRD declares them. */
const nodeRouteTableCrd = parseAllDocuments(readFileSync(crdFile, "utf8"))
  .map((d) => d.toJS() as { spec: { names: { kind: string; plural: string }; versions: { name: string }[] } })
  .find((crd) => crd.spec.names.kind === "NodeRouteTable");
if (nodeRouteTableCrd === undefined) throw new Error(`no NodeRouteTable CRD in ${crdFile}`);
const plural = nodeRouteTableCrd.spec.names.plural;
const version = nodeRouteTableCrd.spec.versions[0]?.name ?? "";

const AGENT = "system:serviceaccount:kroute-system:kroute-agent";
const NODE_NAME_KEY = "authentication.kubernetes.io/node-name";

/** A write of NodeRouteTable `name` by `username`, whose token names `node` (none: undefined). */
function write(
  name: string,
  node: string | undefined,
  options: Pick<AdmissionRequest, "subResource"> &
    Partial<Pick<AdmissionRequest, "operation" | "group">> & {
      username?: string;
    } = {},
): AdmissionRequest {
  return {
    operation: options.operation ?? "UPDATE",
    group: options.group ?? KROUTE_GROUP,
    version,
    resource: plural,
    subResource: options.subResource,
    name,
    userInfo: {
      username: options.username ?? AGENT,
      extra: node === undefined ? {} : { [NODE_NAME_KEY]: [node] },
    },
    object: { apiVersion: `${KROUTE_GROUP}/${version}`, kind: "NodeRouteTable", metadata: { name } },
  };
}

describe("NodeRouteTable admission policy (chart)", () => {
  const { admit, policies } = chartAdmission();

  it("is installed and bound to deny", () => {
    expect(policies).toEqual(["kroute-node-route-table-own-node"]);
  });

  it("lets an agent create and update its own node's NodeRouteTable and its status", () => {
    for (const operation of ["CREATE", "UPDATE"] as const) {
      expect(admit(write("node-a", "node-a", { operation }))).toEqual({ allowed: true });
      expect(admit(write("node-a", "node-a", { operation, subResource: "status" }))).toEqual({
        allowed: true,
      });
    }
  });

  it("refuses an agent writing another node's NodeRouteTable, naming both nodes", () => {
    for (const subResource of [undefined, "status"]) {
      for (const operation of ["CREATE", "UPDATE"] as const) {
        expect(admit(write("node-b", "node-a", { operation, subResource }))).toEqual({
          allowed: false,
          message: "the kroute agent on node node-a may write only its own NodeRouteTable, not node-b",
        });
      }
    }
  });

  it("refuses an agent whose token names no node (not bound to a pod)", () => {
    const verdict = admit(write("node-a", undefined));
    expect(verdict.allowed).toBe(false);
    expect(verdict.allowed === false && verdict.message).toContain(NODE_NAME_KEY);
  });

  it("leaves other users (an operator fixing an object by hand) and other resources alone", () => {
    expect(admit(write("node-b", undefined, { username: "kubernetes-admin" }))).toEqual({ allowed: true });
    expect(admit({ ...write("route-a", "node-a"), resource: "routes", subResource: "status" })).toEqual({
      allowed: true,
    });
    // Another release's agents, in another namespace, are another ServiceAccount.
    expect(
      admit(write("node-b", "node-a", { username: "system:serviceaccount:other:kroute-agent" })),
    ).toEqual({ allowed: true });
  });

  it("guards the API group the agent serves", () => {
    const doks = chartAdmission({ apiGroup: DOKS_GROUP });
    expect(doks.admit(write("node-b", "node-a", { group: DOKS_GROUP })).allowed).toBe(false);
    expect(doks.admit(write("node-b", "node-a", { group: KROUTE_GROUP })).allowed).toBe(true);
  });

  it("follows the release's namespace", () => {
    const other = chartAdmission({}, "routing");
    const agent = "system:serviceaccount:routing:kroute-agent";
    expect(other.admit(write("node-b", "node-a", { username: agent })).allowed).toBe(false);
  });

  it("can be left out (an API server without admission policies): then nothing is refused", () => {
    const without = chartAdmission({ nodeRouteTablePolicy: false });
    expect(without.policies).toEqual([]);
    expect(without.admit(write("node-b", "node-a"))).toEqual({ allowed: true });
  });
});
