import { DEFAULT_SETTINGS } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { parseAgentSettings, parseCleanupSettings, parseDuration, SettingsError } from "../src/settings.ts";

const env = { NODE_NAME: "worker-1" };

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError);
    return (error as Error).message;
  }
  throw new Error("expected a SettingsError");
}

describe("parseAgentSettings", () => {
  it("gives production defaults with only NODE_NAME set", () => {
    const s = parseAgentSettings([], env);
    expect(s.nodeName).toBe("worker-1");
    expect(s.apiGroup).toBe("networking.kroute.dev");
    expect(s.apiServerNamespace).toBe("default");
    expect(s.engine.protocol).toBe(DEFAULT_SETTINGS.protocol);
    expect(s.engine.metric).toBe(DEFAULT_SETTINGS.metric);
    expect(s.engine.maxDestinations).toBe(20_000);
    expect(s.engine.resilient).toEqual({ buckets: 128, idleTimer: 120, unbalancedTimer: 0 });
    expect(s.nexthopMode).toBe("auto");
    expect(s.multipathHashPolicy).toBe(1);
    expect(s.probe).toEqual({ intervalMs: 1000, timeoutMs: 1000, fall: 3, rise: 2 });
    expect(s.metadataAddress).toBe("169.254.169.254");
    expect(s.keepOriginal).toEqual([]);
    expect(s.resolvConf).toEqual(["/etc/resolv.conf"]);
    expect(s.hostRoot).toBe("/");
    expect(s.healthAddress).toEqual({ host: "127.0.0.1", port: 9465 });
    expect(s.metricsAddress).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(s.dryRun).toBe(false);
    expect(s.recordFile).toBeUndefined();
  });

  it("reads every flag, flags winning over the environment", () => {
    const s = parseAgentSettings(
      [
        "--api-group=networking.doks.digitalocean.com",
        "--protocol",
        "150",
        "--metric=20",
        "--table-reply=200",
        "--route-tables=254, 100-199",
        "--max-destinations=5000",
        "--nexthop-mode=groups",
        "--resilient-buckets=64",
        "--resilient-idle-timer=30s",
        "--multipath-hash-policy=0",
        "--probe-interval=100ms",
        "--probe-timeout=80ms",
        "--probe-fall=2",
        "--probe-rise=1",
        "--protect=10.244.0.0/16",
        "--protect=fd00::/8",
        "--metadata-address=169.254.169.253",
        "--keep-original=203.0.113.0/24",
        "--resolv-conf=/etc/resolv.conf",
        "--resolv-conf=/run/resolv.conf",
        "--host-root=/host/",
        "--resync-interval=1m30s",
        "--metrics-address=0.0.0.0:9000",
        "--health-address=[::1]:9001",
        "--dry-run",
        "--record=/tmp/x.jsonl",
        "--netns=kr-abc",
        "--kubeconfig=/k",
        "--node-name=other",
      ],
      { ...env, KROUTE_PROTOCOL: "99" },
    );
    expect(s.nodeName).toBe("other");
    expect(s.apiGroup).toBe("networking.doks.digitalocean.com");
    expect(s.engine.protocol).toBe(150);
    expect(s.engine.metric).toBe(20);
    expect(s.engine.replyTable).toBe(200);
    expect(s.engine.routeTables).toEqual([
      { first: 254, last: 254 },
      { first: 100, last: 199 },
    ]);
    expect(s.engine.maxDestinations).toBe(5000);
    expect(s.engine.nexthopMode).toBe("groups");
    expect(s.engine.resilient).toEqual({ buckets: 64, idleTimer: 30, unbalancedTimer: 0 });
    expect(s.engine.protectedPrefixes).toEqual(["10.244.0.0/16", "fd00::/8"]);
    expect(s.multipathHashPolicy).toBe(0);
    expect(s.probe).toEqual({ intervalMs: 100, timeoutMs: 80, fall: 2, rise: 1 });
    expect(s.metadataAddress).toBe("169.254.169.253");
    expect(s.keepOriginal).toEqual(["203.0.113.0/24"]);
    expect(s.resolvConf).toEqual(["/etc/resolv.conf", "/run/resolv.conf"]);
    expect(s.hostRoot).toBe("/host");
    expect(s.resyncIntervalMs).toBe(90_000);
    expect(s.metricsAddress).toEqual({ host: "0.0.0.0", port: 9000 });
    expect(s.healthAddress).toEqual({ host: "::1", port: 9001 });
    expect(s.dryRun).toBe(true);
    expect(s.recordFile).toBe("/tmp/x.jsonl");
    expect(s.netns).toBe("kr-abc");
    expect(s.kubeconfig).toBe("/k");
  });

  it("reads KROUTE_* environment variables, comma lists for repeatable flags", () => {
    const s = parseAgentSettings([], {
      ...env,
      KROUTE_PROTECT: "10.0.0.0/8, 192.168.0.0/16",
      KROUTE_DRY_RUN: "true",
      KROUTE_PROBE_FALL: "5",
    });
    expect(s.engine.protectedPrefixes).toEqual(["10.0.0.0/8", "192.168.0.0/16"]);
    expect(s.dryRun).toBe(true);
    expect(s.probe.fall).toBe(5);
  });

  it("hands over from the protocol --adopt-protocol names, and from none without it (or with it empty, as the chart's default)", () => {
    const s = parseAgentSettings(["--protocol=202", "--adopt-protocol=201"], env);
    expect(s.engine).toMatchObject({ protocol: 202, adoptProtocol: 201 });
    expect(parseAgentSettings([], env).engine.adoptProtocol).toBeUndefined();
    expect("adoptProtocol" in parseAgentSettings([], { ...env, KROUTE_ADOPT_PROTOCOL: "" }).engine).toBe(
      false,
    );
    expect(() => parseAgentSettings([], { ...env, KROUTE_ADOPT_PROTOCOL: "201" })).toThrow(
      /KROUTE_ADOPT_PROTOCOL \(--adopt-protocol\): "201" is --protocol itself/,
    );
  });

  it("turns off resilient groups with zero buckets, and uses multipath when asked", () => {
    expect(parseAgentSettings(["--resilient-buckets=0"], env).engine.resilient).toBeUndefined();
    const multipath = parseAgentSettings(["--nexthop-mode=multipath"], env);
    expect(multipath.engine.nexthopMode).toBe("multipath");
  });

  it.each([
    [["--protocol=4"], /--protocol: "4" is the well-known route protocol "static"/],
    [["--protocol=300"], /--protocol: "300" is out of range \(1\.\.255\)/],
    [["--protocol=abc"], /--protocol: "abc" is not a whole number/],
    [
      ["--adopt-protocol=186"],
      /--adopt-protocol: "186" is the well-known route protocol "bgp": kroute never used it/,
    ],
    [["--adopt-protocol=201"], /--adopt-protocol: "201" is --protocol itself/],
    [["--adopt-protocol=0"], /--adopt-protocol: "0" is out of range \(1\.\.255\)/],
    [["--adopt-protocol=old"], /--adopt-protocol: "old" is not a whole number/],
    [["--table-reply=254"], /--table-reply: "254" is the kernel's "main" table/],
    [
      ["--route-tables=254,200-100"],
      /--route-tables: "254,200-100" has "200-100": not a table id N or range N-M/,
    ],
    [["--route-tables=main"], /--route-tables: "main" has "main": not a table id N or range N-M/],
    [["--route-tables=0"], /--route-tables: "0" has "0": not a table id/],
    [["--max-destinations=0"], /--max-destinations: "0" is out of range \(1\.\.4294967295\)/],
    [["--max-destinations=lots"], /--max-destinations: "lots" is not a whole number/],
    [["--nexthop-mode=ecmp"], /--nexthop-mode: "ecmp" is not one of auto, groups, multipath/],
    [["--api-group=example.com"], /--api-group: "example.com" is not one of/],
    [["--probe-interval=fast"], /--probe-interval: "fast" is not a duration/],
    [["--probe-interval=1s", "--probe-timeout=2s"], /--probe-timeout: "2s" must not exceed --probe-interval/],
    [
      ["--protect=10.0.0.1/8"],
      /--protect: "10.0.0.1\/8" has host bits set \(did you mean 10\.0\.0\.0\/8\?\)/,
    ],
    [["--protect=banana"], /--protect: "banana" is not a CIDR/],
    [["--keep-original=10.0.0.0/40"], /--keep-original: "10.0.0.0\/40" is not a CIDR/],
    [["--metadata-address=metadata"], /--metadata-address: "metadata" is not an IP address/],
    [["--health-address=0.0.0.0:9465"], /--health-address: "0.0.0.0:9465" must be a loopback address/],
    [["--metrics-address=localhost"], /--metrics-address: "localhost" is not HOST:PORT/],
    [["--metrics-address=127.0.0.1:70000"], /port out of range/],
    [["--resilient-idle-timer=1500ms"], /--resilient-idle-timer: "1500ms" must be whole seconds/],
    [
      ["--nexthop-mode=multipath", "--resilient-buckets=32"],
      /--resilient-buckets: "32" needs nexthop groups/,
    ],
    [["--multipath-hash-policy=3"], /--multipath-hash-policy: "3" is out of range \(0\.\.2\)/],
    [["--log-level=loud"], /--log-level: "loud" is not one of/],
    [["--netns=a/b"], /--netns: "a\/b" is not a network namespace name/],
    [
      ["--api-server-namespace=Kube_System"],
      /--api-server-namespace: "Kube_System" is not a Kubernetes namespace/,
    ],
    [["--api-server-namespace=-x"], /--api-server-namespace: "-x" is not a Kubernetes namespace/],
    [
      [`--api-server-namespace=${"a".repeat(64)}`],
      /--api-server-namespace: "a{64}" is not a Kubernetes namespace/,
    ],
    [["--host-root=host"], /--host-root: "host" is not an absolute path/],
    [["--resolv-conf=etc/resolv.conf"], /--resolv-conf: "etc\/resolv.conf" is not an absolute path/],
    [
      // The pod's path of the file, as the chart once gave it: found nowhere under the root.
      ["--host-root=/host", "--resolv-conf=/host/etc/resolv.conf"],
      /--resolv-conf: "\/host\/etc\/resolv.conf" is under --host-root \/host: name the file as the host does \(\/etc\/resolv.conf\)/,
    ],
    [["--bogus"], /Unknown option '--bogus'/],
  ])("refuses %j with a clear error", (argv, message) => {
    expect(errorOf(() => parseAgentSettings(argv, env))).toMatch(message);
  });

  it("takes the API server's namespace from the flag or KROUTE_API_SERVER_NAMESPACE", () => {
    expect(parseAgentSettings(["--api-server-namespace=kube-api"], env).apiServerNamespace).toBe("kube-api");
    expect(parseAgentSettings([], { ...env, KROUTE_API_SERVER_NAMESPACE: "ops" }).apiServerNamespace).toBe(
      "ops",
    );
    expect(errorOf(() => parseAgentSettings([], { ...env, KROUTE_API_SERVER_NAMESPACE: "Ops" }))).toMatch(
      /^KROUTE_API_SERVER_NAMESPACE \(--api-server-namespace\): "Ops" is not a Kubernetes namespace name/,
    );
  });

  it("requires a node name and says where it comes from", () => {
    expect(errorOf(() => parseAgentSettings([], {}))).toMatch(/NODE_NAME is empty .*downward API/);
    expect(errorOf(() => parseAgentSettings([], { NODE_NAME: "Bad_Name" }))).toMatch(
      /--node-name: "Bad_Name" is not a valid Kubernetes node name/,
    );
  });

  it("leaves V8's optimizing compilers off unless --optimizing-compilers or KROUTE_OPTIMIZING_COMPILERS", () => {
    expect(parseAgentSettings([], env).optimizingCompilers).toBe(false);
    expect(parseAgentSettings(["--optimizing-compilers"], env).optimizingCompilers).toBe(true);
    expect(parseAgentSettings([], { ...env, KROUTE_OPTIMIZING_COMPILERS: "true" }).optimizingCompilers).toBe(
      true,
    );
  });

  it("names the environment variable when a boolean from it is malformed", () => {
    expect(errorOf(() => parseAgentSettings([], { ...env, KROUTE_DRY_RUN: "maybe" }))).toBe(
      'KROUTE_DRY_RUN (--dry-run): "maybe" is not a boolean: use true or false',
    );
  });

  it("names a refused value by where it came from: the environment variable (as the chart sets them) or the flag", () => {
    expect(errorOf(() => parseAgentSettings([], { ...env, KROUTE_PROTECT: "10.0.0.0/8,10.1.2.3/8" }))).toBe(
      'KROUTE_PROTECT (--protect): "10.1.2.3/8" has host bits set (did you mean 10.0.0.0/8?)',
    );
    expect(errorOf(() => parseAgentSettings([], { ...env, KROUTE_PROBE_INTERVAL: "soon" }))).toBe(
      'KROUTE_PROBE_INTERVAL (--probe-interval): "soon" is not a duration (e.g. 500ms, 2s, 5m)',
    );
    // The flag wins over the variable, and is named.
    expect(
      errorOf(() => parseAgentSettings(["--probe-interval=later"], { ...env, KROUTE_PROBE_INTERVAL: "1s" })),
    ).toBe('--probe-interval: "later" is not a duration (e.g. 500ms, 2s, 5m)');
    expect(errorOf(() => parseCleanupSettings([], { KROUTE_NETNS: "no/slash" }))).toMatch(
      /^KROUTE_NETNS \(--netns\): "no\/slash"/,
    );
  });
});

describe("parseCleanupSettings", () => {
  it("needs no node name and accepts only cleanup's flags", () => {
    const s = parseCleanupSettings(["--protocol=150", "--netns=kr-x", "--dry-run"], {});
    expect(s).toEqual({
      protocols: [150],
      nexthopIdBase: DEFAULT_SETTINGS.nexthopIdBase,
      nexthopIdCount: DEFAULT_SETTINGS.nexthopIdCount,
      netns: "kr-x",
      dryRun: true,
    });
    expect(errorOf(() => parseCleanupSettings(["--probe-fall=3"], {}))).toMatch(
      /Unknown option '--probe-fall'/,
    );
    // Rules and routes are found by protocol in every table: the reply table is not needed.
    expect(errorOf(() => parseCleanupSettings(["--table-reply=200"], {}))).toMatch(
      /Unknown option '--table-reply'/,
    );
  });

  it("removes the protocols the agent owns: its own and the one it hands over from, as the agent reads them", () => {
    expect(parseCleanupSettings([], {}).protocols).toEqual([201]);
    expect(parseCleanupSettings(["--protocol=202", "--adopt-protocol=201"], {}).protocols).toEqual([
      202, 201,
    ]);
    expect(
      parseCleanupSettings([], { KROUTE_PROTOCOL: "202", KROUTE_ADOPT_PROTOCOL: "201" }).protocols,
    ).toEqual([202, 201]);
    expect(errorOf(() => parseCleanupSettings(["--adopt-protocol=201"], {}))).toMatch(
      /^--adopt-protocol: "201" is --protocol itself/,
    );
  });

  it("removes each protocol of a list, and refuses a bad one naming the flag and the list", () => {
    expect(parseCleanupSettings(["--protocols=201, 202,150,202"], {}).protocols).toEqual([201, 202, 150]);
    expect(parseCleanupSettings([], { KROUTE_PROTOCOLS: "203" }).protocols).toEqual([203]);
    expect(errorOf(() => parseCleanupSettings(["--protocols=201,bgp"], {}))).toMatch(
      /^--protocols: "201,bgp" has "bgp": not a route protocol number \(1\.\.255\)/,
    );
    expect(errorOf(() => parseCleanupSettings(["--protocols=201,256"], {}))).toMatch(
      /^--protocols: "201,256" has "256": not a route protocol number/,
    );
    expect(errorOf(() => parseCleanupSettings(["--protocols=201,"], {}))).toMatch(
      /^--protocols: "201," has "": not a route protocol number/,
    );
    expect(errorOf(() => parseCleanupSettings(["--protocols=201,186"], {}))).toMatch(
      /^--protocols: "201,186" has 186, the well-known route protocol "bgp"/,
    );
    expect(errorOf(() => parseCleanupSettings([], { KROUTE_PROTOCOLS: "0" }))).toMatch(
      /^KROUTE_PROTOCOLS \(--protocols\): "0" has "0": not a route protocol number/,
    );
    expect(errorOf(() => parseCleanupSettings(["--protocols=201,202", "--protocol=202"], {}))).toMatch(
      /^--protocols: "201,202" names the protocols itself: give it or --protocol, not both/,
    );
    // The agent has one protocol (and the one it hands over from), never a list.
    expect(errorOf(() => parseAgentSettings(["--protocols=201,202"], env))).toMatch(
      /Unknown option '--protocols'/,
    );
  });

  it("refuses a namespace name the agent would refuse, naming the flag (not a stack trace from the driver)", () => {
    expect(errorOf(() => parseCleanupSettings(["--netns=../x"], {}))).toMatch(
      /^--netns: "\.\.\/x" is not a network namespace name/,
    );
    expect(errorOf(() => parseCleanupSettings([], { KROUTE_NETNS: "a b" }))).toMatch(
      /^KROUTE_NETNS \(--netns\): "a b" is not a network namespace name/,
    );
  });
});

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["2s", 2000],
    ["1m30s", 90_000],
    ["1.5s", 1500],
    ["1h", 3_600_000],
  ])("%s = %i ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(["", "5", "s", "1x", "-1s"])("refuses %j", (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
