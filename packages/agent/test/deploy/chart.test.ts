import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  DEFAULT_MAX_DESTINATIONS,
  MAX_DESTINATIONS,
  MAX_GATEWAYS,
  MAX_SELECTOR_REQUIREMENTS,
  MAX_SELECTOR_TERMS,
  MAX_SELECTOR_VALUES,
} from "@kroute/core";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { DOKS_GROUP, generatedDeployFiles, KROUTE_GROUP, renderChart } from "../../src/deploy/chart.ts";
import { parseAgentSettings } from "../../src/settings.ts";
import { compileCrdSchema } from "./crd-schema.ts";
import { type KubeObject, kubernetesSchemaProblems } from "./kube-schema.ts";

const repoRoot = resolve(import.meta.dirname, "../../../..");
const chartDir = join(repoRoot, "deploy/helm/kroute");
/** The capabilities Pod Security's baseline level lets a container add. */
const BASELINE_CAPABILITIES = new Set([
  "AUDIT_WRITE",
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "FSETID",
  "KILL",
  "MKNOD",
  "NET_BIND_SERVICE",
  "SETFCAP",
  "SETGID",
  "SETPCAP",
  "SETUID",
  "SYS_CHROOT",
]);
/** Where the generated DOKS-group CRDs are: outside crds/, which Helm installs whole. */
const DOKS_CRDS_FILE = `deploy/helm/kroute/crds-doks/${DOKS_GROUP}.yaml`;

function objectsOf(text: string): KubeObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join("; "));
    const value = doc.toJS() as KubeObject | null;
    return value === null ? [] : [value];
  });
}

function rendered(values: Record<string, unknown> = {}): KubeObject[] {
  const chart = renderChart(chartDir, { values });
  return [...chart.crds, ...chart.templates].flatMap((f) => objectsOf(f.text));
}

function find(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ""} rendered`);
  return found;
}

// biome-ignore lint/suspicious/noExplicitAny: rendered YAML is navigated dynamically in assertions
type Loose = any;

describe("the Helm chart", () => {
  const variants: Record<string, Record<string, unknown>> = {
    defaults: {},
    doks: { apiGroup: DOKS_GROUP },
    customised: {
      protect: ["10.244.0.0/16", "10.96.0.0/12"],
      routeTables: ["254", "100-199"],
      maxDestinations: 500,
      extraArgs: ["--probe-interval=250ms", "--probe-timeout=200ms"],
      image: { tag: "dev" },
    },
  };

  it.each(Object.entries(variants))(
    "renders objects that pass the Kubernetes schemas (%s)",
    (_name, values) => {
      const objects = rendered(values);
      expect(objects.map((o) => o.kind).sort()).toEqual([
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "CustomResourceDefinition",
        "DaemonSet",
        "Role",
        "Role",
        "RoleBinding",
        "RoleBinding",
        "ServiceAccount",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
      ]);
      expect(objects.flatMap(kubernetesSchemaProblems)).toEqual([]);
    },
  );

  it("the schema check catches a misspelt field and a wrong type (it can fail)", () => {
    const ds = structuredClone(find(rendered(), "DaemonSet")) as Loose;
    ds.spec.template.spec.hostNetwrok = true;
    ds.spec.template.spec.containers[0].securityContext.capabilities.add = [7];
    const problems = kubernetesSchemaProblems(ds);
    expect(problems.join("\n")).toMatch(/unknown field \.spec\.template\.spec\.hostNetwrok/);
    expect(problems.join("\n")).toMatch(/capabilities\/add\/0 must be string/);
    const crd = structuredClone(find(rendered(), "CustomResourceDefinition")) as Loose;
    crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.gateways.items.maxLenght = 3;
    expect(kubernetesSchemaProblems(crd).join("\n")).toMatch(
      /unknown schema keyword .*gateways\.items\.maxLenght/,
    );
  });

  it("runs the DaemonSet as SPEC §4 says", () => {
    const ds = find(rendered(), "DaemonSet") as Loose;
    const pod = ds.spec.template.spec;
    const [container] = pod.containers;
    expect(pod.hostNetwork).toBe(true);
    expect(pod.priorityClassName).toBe("system-node-critical");
    expect(pod.tolerations).toEqual([{ operator: "Exists" }]);
    expect(pod.serviceAccountName).toBe("kroute-agent");
    expect(container.env).toContainEqual({
      name: "NODE_NAME",
      valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
    });
    expect(container.securityContext).toEqual({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      // Root: a container runtime gives the added capabilities to uid 0 only (none are
      // ambient), and with no privilege escalation file capabilities are not granted.
      runAsUser: 0,
      runAsNonRoot: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    // The node's network namespace, and nothing else of the node's.
    for (const shared of ["hostPID", "hostIPC", "shareProcessNamespace", "securityContext"])
      expect(pod).not.toHaveProperty(shared);
    // The node's files are only read: every hostPath is mounted read-only.
    const hostPaths = new Set(pod.volumes.filter((v: Loose) => v.hostPath).map((v: Loose) => v.name));
    const mounts = container.volumeMounts.filter((m: Loose) => hostPaths.has(m.name));
    expect(mounts.length).toBe(hostPaths.size);
    for (const mount of mounts) expect([mount.name, mount.readOnly]).toEqual([mount.name, true]);
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      expect(probe.httpGet.host).toBe("127.0.0.1");
      expect(probe.httpGet.port).toBe(9465);
    }
    expect(container.livenessProbe.httpGet.path).toBe("/livez");
    expect(container.readinessProbe.httpGet.path).toBe("/readyz");
  });

  it("passes args and env that the agent's own settings parser accepts, probes on its health port", () => {
    const ds = find(rendered(variants.customised), "DaemonSet") as Loose;
    const [container] = ds.spec.template.spec.containers;
    expect(container.image).toBe("ghcr.io/kroute/kroute-agent:dev");
    const env: Record<string, string> = { NODE_NAME: "node-a" };
    for (const e of container.env) if (e.value !== undefined) env[e.name] = e.value;
    const settings = parseAgentSettings(container.args, env);
    expect(settings.engine.protectedPrefixes).toEqual(["10.244.0.0/16", "10.96.0.0/12"]);
    expect(settings.engine.routeTables).toEqual([
      { first: 254, last: 254 },
      { first: 100, last: 199 },
    ]);
    expect(settings.engine.maxDestinations).toBe(500);
    expect(settings.probe.intervalMs).toBe(250);
    expect(settings.healthAddress).toEqual({ host: "127.0.0.1", port: container.livenessProbe.httpGet.port });
    const defaults = find(rendered(), "DaemonSet") as Loose;
    expect(defaults.spec.template.spec.containers[0].image).toBe("ghcr.io/kroute/kroute-agent:0.1.0");
    const digest = `sha256:${"0123456789abcdef".repeat(4)}`;
    const pinned = find(rendered({ image: { tag: "dev", digest } }), "DaemonSet") as Loose;
    expect(pinned.spec.template.spec.containers[0].image).toBe(`ghcr.io/kroute/kroute-agent@${digest}`);
  });

  it("caps the destinations a node programs at the agent's default unless maxDestinations says otherwise", () => {
    const engineOf = (values: Record<string, unknown>) => {
      const [container] = (find(rendered(values), "DaemonSet") as Loose).spec.template.spec.containers;
      const env: Record<string, string> = { NODE_NAME: "node-a" };
      for (const e of container.env) if (e.value !== undefined) env[e.name] = e.value;
      return parseAgentSettings(container.args, env).engine;
    };
    expect(engineOf({}).maxDestinations).toBe(DEFAULT_MAX_DESTINATIONS);
    expect(engineOf({ maxDestinations: 100_000 }).maxDestinations).toBe(100_000);
  });

  it("passes protocol and adoptProtocol to the agent when set, and neither by default", () => {
    const settingsOf = (values: Record<string, unknown>) => {
      const [container] = (find(rendered(values), "DaemonSet") as Loose).spec.template.spec.containers;
      return parseAgentSettings(container.args, { NODE_NAME: "node-a" }).engine;
    };
    expect(settingsOf({ protocol: 202, adoptProtocol: 201 })).toMatchObject({
      protocol: 202,
      adoptProtocol: 201,
    });
    const defaults = settingsOf({});
    expect(defaults.protocol).toBe(201);
    expect(defaults).not.toHaveProperty("adoptProtocol");
  });

  it("gives Node the memory settings the agent-memory bench measures, in a form it accepts", () => {
    const envOf = (values: Record<string, unknown>): Record<string, string> => {
      const [container] = (find(rendered(values), "DaemonSet") as Loose).spec.template.spec.containers;
      return Object.fromEntries(
        container.env.filter((e: Loose) => e.value !== undefined).map((e: Loose) => [e.name, e.value]),
      );
    };
    const env = envOf({});
    expect(env.MALLOC_ARENA_MAX).toBe("2");
    expect(env.NODE_OPTIONS).toContain("--v8-pool-size=1");
    // Node refuses some V8 flags in NODE_OPTIONS, and refuses to start at all then.
    const started = spawnSync(process.execPath, ["-e", "0"], {
      env: { ...process.env, NODE_OPTIONS: env.NODE_OPTIONS },
      encoding: "utf8",
    });
    expect(started.stderr).toBe("");
    expect(started.status).toBe(0);
    expect(envOf({ mallocArenaMax: "" })).not.toHaveProperty("MALLOC_ARENA_MAX");
  });

  it("tells the agent the namespace the Role is in (apiServerNamespace); the Events' Role is in default whatever it is", () => {
    for (const namespace of [undefined, "kube-api"]) {
      const objects = rendered(namespace === undefined ? {} : { apiServerNamespace: namespace });
      const [container] = (find(objects, "DaemonSet") as Loose).spec.template.spec.containers;
      const expected = namespace ?? "default";
      expect(container.args).toContain(`--api-server-namespace=${expected}`);
      expect(parseAgentSettings(container.args, { NODE_NAME: "node-a" }).apiServerNamespace).toBe(expected);
      for (const kind of ["Role", "RoleBinding"]) {
        expect(find(objects, kind, "kroute-agent").metadata.namespace).toBe(expected);
        expect(find(objects, kind, "kroute-agent-events").metadata.namespace).toBe("default");
      }
    }
  });

  it.each([KROUTE_GROUP, DOKS_GROUP])("grants exactly the least privilege the agent needs (%s)", (group) => {
    const objects = rendered({ apiGroup: group });
    const grants = (o: Loose, scope: string) =>
      o.rules.flatMap((r: Loose) =>
        r.apiGroups.flatMap((g: string) =>
          r.resources.flatMap((res: string) =>
            r.verbs.map((v: string) => `${scope} ${g || "core"} ${res} ${v}`),
          ),
        ),
      );
    const roles = objects.filter((o) => o.kind === "Role") as Loose[];
    const all = [
      ...grants(find(objects, "ClusterRole"), "cluster"),
      ...roles.flatMap((role) => grants(role, role.metadata.namespace)),
    ].sort();
    // Every verb is one the agent's code uses, and nothing else (the e2e test "every request
    // the agent makes is granted" checks the same list against the agent's real requests):
    expect(all).toEqual(
      [
        // kube/routes.ts watchRoutes: listClusterCustomObject, then a watch.
        `cluster ${group} routes list`,
        `cluster ${group} routes watch`,
        // kube/route-status.ts: server-side apply of the Accepted condition (PATCH on status).
        `cluster ${group} routes/status patch`,
        // kube/node-route-table.ts #create: server-side apply (PATCH) of the object; an apply
        // to an object that does not exist yet is authorized as create.
        `cluster ${group} noderoutetables create`,
        `cluster ${group} noderoutetables patch`,
        // kube/own-node-route-table.ts watchOwnNodeRouteTable (field selector
        // metadata.name): list and watch, to write the table again once deleted.
        `cluster ${group} noderoutetables list`,
        `cluster ${group} noderoutetables watch`,
        // kube/node-route-table.ts #applyStatus: server-side apply of status (404 when
        // missing, never a create: the writer then applies the object again).
        `cluster ${group} noderoutetables/status patch`,
        // kube/own-node.ts watchOwnNode (field selector metadata.name) and the NodeRouteTable
        // writer's uid lookup (listNode): list and watch, never get.
        "cluster core nodes list",
        "cluster core nodes watch",
        // kube/api-server-endpoints.ts: listNamespacedEndpointSlice, then a watch.
        "default discovery.k8s.io endpointslices list",
        "default discovery.k8s.io endpointslices watch",
        // kube/event-recorder.ts: createNamespacedEvent only (an Event per transition, never
        // a PATCH bumping a series count).
        "default events.k8s.io events create",
      ].sort(),
    );
    const bindings = objects.filter((o) => o.kind === "ClusterRoleBinding" || o.kind === "RoleBinding");
    expect(bindings).toHaveLength(3);
    const subjects = bindings.map((b: Loose) => b.subjects);
    for (const s of subjects)
      expect(s).toEqual([{ kind: "ServiceAccount", name: "kroute-agent", namespace: "kroute-system" }]);
  });
});

/**
 * The API group kubectl picks for a resource name (plural, singular, kind or short name)
 * that several installed CRDs answer to: the first in discovery order. Every CRD group
 * has the same group and version priority, so discovery lists them by name and the
 * alphabetically first group wins (kubernetes/kubernetes#110218).
 */
function kubectlGroupOf(name: string, installed: readonly Loose[]): string | undefined {
  const answering = installed.filter((crd) => {
    const names = crd.spec.names;
    return [names.plural, names.singular, names.kind.toLowerCase(), ...(names.shortNames ?? [])].includes(
      name,
    );
  });
  return answering.map((crd) => crd.spec.group as string).sort()[0];
}

describe("kubectl, with the chart installed", () => {
  /** What Helm installs (every file of crds/), and the DOKS CRDs where the README says to apply them. */
  const installedFor = (group: string): Loose[] => {
    const helm = renderChart(chartDir, { values: { apiGroup: group } }).crds.flatMap((f) =>
      objectsOf(f.text),
    );
    if (group !== DOKS_GROUP) return helm;
    return [...helm, ...objectsOf(generatedDeployFiles(repoRoot).get(DOKS_CRDS_FILE) ?? "")];
  };

  it.each([KROUTE_GROUP, DOKS_GROUP])(
    "gets, edits and deletes the Routes and NodeRouteTables of the group the agent serves (%s)",
    (group) => {
      const installed = installedFor(group);
      for (const name of ["routes", "route", "kr", "noderoutetables", "noderoutetable", "nrt"])
        expect([name, kubectlGroupOf(name, installed)]).toEqual([name, group]);
    },
  );
});

describe("the CRDs", () => {
  const crdsOf = (group: string) =>
    objectsOf(
      readFileSync(join(chartDir, group === DOKS_GROUP ? "crds-doks" : "crds", `${group}.yaml`), "utf8"),
    ) as Loose[];

  it("exist for both API groups, identical but for the group", () => {
    const kroute = crdsOf(KROUTE_GROUP);
    const doks = crdsOf(DOKS_GROUP);
    expect(kroute.map((c) => c.metadata.name)).toEqual([
      `routes.${KROUTE_GROUP}`,
      `noderoutetables.${KROUTE_GROUP}`,
    ]);
    expect(JSON.stringify(kroute).replaceAll(KROUTE_GROUP, DOKS_GROUP)).toBe(JSON.stringify(doks));
  });

  it("declare cluster scope, short names, a status subresource and printer columns", () => {
    const [route, table] = crdsOf(KROUTE_GROUP);
    expect(route.spec.scope).toBe("Cluster");
    expect(route.spec.names.shortNames).toEqual(["kr"]);
    expect(table.spec.names.shortNames).toEqual(["nrt"]);
    for (const crd of [route, table]) {
      const [version] = crd.spec.versions;
      expect(version.name).toBe("v1alpha1");
      expect(version.subresources).toEqual({ status: {} });
    }
    expect(route.spec.versions[0].additionalPrinterColumns.map((c: Loose) => c.name)).toEqual([
      "Destinations",
      "Gateways",
      "Accepted",
      "Reason",
      "Age",
    ]);
    expect(table.spec.versions[0].additionalPrinterColumns.map((c: Loose) => c.name)).toEqual([
      "Programmed",
      "Pending",
      "Failed",
      "Fail-Static",
      "Degraded",
      "Skipped",
      "Gateways-Up",
      "Gateways-Down",
      "Last-Sync",
      "Age",
    ]);
  });

  it("bound every list and string of a Route's spec, the lists at the agent's own limits", () => {
    const [route] = crdsOf(KROUTE_GROUP);
    const spec = route.spec.versions[0].schema.openAPIV3Schema.properties.spec;
    // Without a bound, one Route's size is up to the API server's request limit, on every node.
    const unbounded: string[] = [];
    const walk = (schema: Loose, path: string) => {
      if (schema.type === "array" && schema.maxItems === undefined) unbounded.push(`${path} maxItems`);
      if (schema.type === "string" && schema.maxLength === undefined && schema.enum === undefined)
        unbounded.push(`${path} maxLength`);
      for (const [key, child] of Object.entries(schema.properties ?? {})) walk(child, `${path}.${key}`);
      if (schema.items !== undefined) walk(schema.items, `${path}[]`);
    };
    walk(spec, "spec");
    expect(unbounded).toEqual([]);
    // What admission refuses the agent refuses too, where admission did not run.
    const selector = spec.properties.nodeSelector.properties.nodeSelectorTerms;
    const term = selector.items.properties;
    expect({
      destinations: spec.properties.destinations.maxItems,
      gateways: spec.properties.gateways.maxItems,
      nodeSelectorTerms: selector.maxItems,
      matchExpressions: term.matchExpressions.maxItems,
      matchFields: term.matchFields.maxItems,
      values: term.matchExpressions.items.properties.values.maxItems,
    }).toEqual({
      destinations: MAX_DESTINATIONS,
      gateways: MAX_GATEWAYS,
      nodeSelectorTerms: MAX_SELECTOR_TERMS,
      matchExpressions: MAX_SELECTOR_REQUIREMENTS,
      matchFields: MAX_SELECTOR_REQUIREMENTS,
      values: MAX_SELECTOR_VALUES,
    });
  });

  it("carry CEL rules for addresses and CIDRs", () => {
    const [route] = crdsOf(KROUTE_GROUP);
    const spec = route.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties;
    expect(spec.destinations.items["x-kubernetes-validations"][0].rule).toBe("isCIDR(self) || isIP(self)");
    expect(spec.gateways.items["x-kubernetes-validations"][0].rule).toBe("isIP(self)");
  });

  describe("admit the SPEC's examples and refuse bad input (OpenAPI part; CEL not evaluated)", () => {
    const [route] = crdsOf(KROUTE_GROUP);
    const check = compileCrdSchema(route.spec.versions[0].schema.openAPIV3Schema);
    const make = (spec: unknown) => ({
      apiVersion: `${KROUTE_GROUP}/v1alpha1`,
      kind: "Route",
      metadata: { name: "r" },
      spec,
    });
    const basic = {
      destinations: ["1.2.3.4/5"],
      gateways: ["10.114.0.3", "10.114.0.4"],
      nodeSelector: {
        nodeSelectorTerms: [
          {
            matchExpressions: [
              { key: "doks.digitalocean.com/node-pool", operator: "In", values: ["worker-pool"] },
            ],
          },
        ],
      },
    };

    it.each([
      ["basic", basic],
      ["single gateway", { destinations: ["192.0.2.0/24"], gateways: ["10.114.0.3"] }],
      ["default override", { destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3", "10.114.0.4"] }],
      [
        "dual stack, bare address",
        { destinations: ["2001:db8::/32", "198.51.100.7"], gateways: ["fd00::1", "10.0.0.1"] },
      ],
      ["extensions", { destinations: ["10.1.0.0/16"], gateways: ["10.0.0.1"], probe: false, table: 100 }],
      [
        "a node by a name longer than a label value",
        {
          destinations: ["10.1.0.0/16"],
          gateways: ["10.0.0.1"],
          nodeSelector: {
            nodeSelectorTerms: [
              {
                matchFields: [
                  {
                    key: "metadata.name",
                    operator: "In",
                    values: [`${"n".repeat(60)}.${"c".repeat(60)}.example`],
                  },
                ],
              },
            ],
          },
        },
      ],
    ])("admits %s", (_name, spec) => {
      expect(check(make(spec))).toMatchObject({ ok: true, errors: [] });
    });

    it("defaults probe to true and table to main", () => {
      const result = check(make({ destinations: ["10.1.0.0/16"], gateways: ["10.0.0.1"] })) as Loose;
      expect(result.ok).toBe(true);
      expect(result.defaulted.spec).toMatchObject({ probe: true, table: 254 });
    });

    it.each([
      ["a bad CIDR", { destinations: ["10.0.0.0/33"], gateways: ["10.0.0.1"] }, /destinations\/0/],
      ["a host name as gateway", { destinations: ["10.0.0.0/8"], gateways: ["gw.example"] }, /gateways\/0/],
      ["no gateways", { destinations: ["10.0.0.0/8"], gateways: [] }, /gateways must NOT have fewer than 1/],
      ["missing destinations", { gateways: ["10.0.0.1"] }, /must have required property 'destinations'/],
      [
        "1025 destinations",
        {
          destinations: Array.from({ length: 1025 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`),
          gateways: ["10.0.0.1"],
        },
        /destinations must NOT have more than 1024 items/,
      ],
      [
        "33 gateways",
        { destinations: ["10.0.0.0/8"], gateways: Array.from({ length: 33 }, (_, i) => `10.1.0.${i + 1}`) },
        /gateways must NOT have more than 32 items/,
      ],
      [
        "an unknown operator",
        {
          destinations: ["10.0.0.0/8"],
          gateways: ["10.0.0.1"],
          nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [{ key: "a", operator: "Is" }] }] },
        },
        /operator must be equal to one of the allowed values/,
      ],
      ["table 0", { destinations: ["10.0.0.0/8"], gateways: ["10.0.0.1"], table: 0 }, /table must be >= 1/],
      [
        "a node field other than metadata.name",
        {
          destinations: ["10.0.0.0/8"],
          gateways: ["10.0.0.1"],
          nodeSelector: {
            nodeSelectorTerms: [{ matchFields: [{ key: "metadata.uid", operator: "In", values: ["x"] }] }],
          },
        },
        /matchFields\/0\/key must be equal to one of the allowed values/,
      ],
    ])("refuses %s", (_name, spec, message) => {
      const result = check(make(spec));
      expect(result.ok).toBe(false);
      expect(result.errors.join("\n")).toMatch(message);
    });
  });
});

describe("generated deploy files", () => {
  it("are up to date with the chart (run `pnpm --filter @kroute/agent manifests`)", () => {
    for (const [file, text] of generatedDeployFiles(repoRoot)) {
      expect(readFileSync(join(repoRoot, file), "utf8"), file).toBe(text);
    }
  });

  it.each(["kroute.yaml", "kroute-doks.yaml"])(
    "plain manifest %s puts the agent in a namespace whose Pod Security admits it",
    (file) => {
      const objects = objectsOf(readFileSync(join(repoRoot, "deploy/manifests", file), "utf8")) as Loose[];
      const daemonSet = find(objects, "DaemonSet") as Loose;
      const pod = daemonSet.spec.template.spec;
      // Pod Security "baseline" refuses host namespaces, hostPath volumes and capabilities
      // beyond its short list (NET_ADMIN and NET_RAW are not on it): only "privileged" admits
      // this pod. A namespace without the label gets the cluster's default level, which a
      // hardened cluster sets to baseline or restricted.
      const beyondBaseline = [
        pod.hostNetwork === true ? "hostNetwork" : "",
        ...pod.volumes.filter((v: Loose) => v.hostPath !== undefined).map((v: Loose) => `hostPath ${v.name}`),
        ...pod.containers.flatMap((c: Loose) =>
          (c.securityContext?.capabilities?.add ?? []).filter(
            (cap: string) => !BASELINE_CAPABILITIES.has(cap),
          ),
        ),
      ].filter((reason) => reason !== "");
      expect(beyondBaseline.length).toBeGreaterThan(0);
      const namespace = find(objects, "Namespace", daemonSet.metadata.namespace) as Loose;
      expect(namespace.metadata.labels).toMatchObject({ "pod-security.kubernetes.io/enforce": "privileged" });
    },
  );

  it.each(["kroute.yaml", "kroute-doks.yaml"])("plain manifest %s passes the Kubernetes schemas", (file) => {
    const objects = objectsOf(readFileSync(join(repoRoot, "deploy/manifests", file), "utf8"));
    expect(objects.map((o) => o.kind)).toContain("Namespace");
    expect(objects.flatMap(kubernetesSchemaProblems)).toEqual([]);
  });
});
