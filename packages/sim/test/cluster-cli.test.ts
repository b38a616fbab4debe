/**
 * `kroute-sim cluster` from the command line: without root it says so on stderr and
 * tells the same story on fake kernels; `--report FILE` writes the HTML timeline, on
 * fake kernels and (as root) from the real agents' recordings.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describeAsRoot, isRoot } from "@kroute/testkit";
import { afterAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const NOT_ROOT =
  "kroute-sim cluster: not root, so no network namespaces: running the same scenario on fake kernels\n";

/**
 * As root, drops to nobody (uid/gid 65534, no groups) first; otherwise already
 * unprivileged. Nobody keeps CAP_DAC_READ_SEARCH only, so it can read the checkout
 * wherever it lies (a CI clone under a 0700 directory, say) and nothing more.
 */
async function sim(
  unprivileged: boolean,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const nobody = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--inh-caps=+dac_read_search",
    "--ambient-caps=+dac_read_search",
  ];
  const [command, ...prefix] = unprivileged && isRoot ? [...nobody, process.execPath] : [process.execPath];
  try {
    const { stdout, stderr } = await exec(command as string, [...prefix, CLI, ...args], {
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function expectReport(path: string, nodes: readonly string[]): string {
  const html = readFileSync(path, "utf8");
  expect(html.startsWith("<!doctype html>")).toBe(true);
  expect(html).toContain("<title>kroute-sim cluster</title>");
  for (const node of nodes) expect(html).toContain(`<h2>${node}</h2>`);
  // gw-1's lane goes red when it fails and green again when it recovers.
  expect(html).toContain(">gw 10.114.0.3</text>");
  expect(html).toMatch(/class="down"><title>down from seq \d+/);
  expect(html).toMatch(/class="up"><title>up from seq \d+/);
  expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
  return html;
}

describe("kroute-sim cluster without root", () => {
  const dir = mkdtempSync(join(tmpdir(), "kroute-sim-cluster-cli-"));
  chmodSync(dir, 0o777); // nobody writes the report here
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("says so on stderr and runs the same scenario on fake kernels, with its report", async () => {
    const report = join(dir, "fake.html");
    const { code, stdout, stderr } = await sim(
      true,
      "cluster",
      "--nodes",
      "2",
      "--gateways",
      "2",
      "--report",
      report,
    );
    expect(stderr).toBe(NOT_ROOT);
    expect(code).toBe(0);
    expect(stdout).toContain(
      "== cluster in a box (fake kernels: the same scenario replayed through the core and the in-memory kernel): 2 nodes, 2 gateways, 3 Routes",
    );
    // node-2 is in the override pool: through the gateways while both answer, only gw-2 once gw-1 stops.
    const egress = stdout.split("\n").filter((l) => l.startsWith("node-2 → 192.0.2.10: "));
    expect(egress).toHaveLength(2);
    expect(egress[0]).toMatch(/^node-2 → 192\.0\.2\.10: 198\.18\.1\.1 ×\d+ .*, 198\.18\.2\.1 ×\d+/);
    expect(egress[1]).toBe("node-2 → 192.0.2.10: 198.18.2.1 ×8 (gw-2's static egress IP)");
    expect(stdout).toContain("## 3. gw-1 (10.114.0.3) stops answering: its probes fail on every node");
    // Nothing was built, so nothing is claimed torn down.
    expect(stdout.trimEnd().endsWith("\ncluster: every check held.")).toBe(true);
    expectReport(report, ["node-1", "node-2"]);

    // The same story as root asking for fake kernels, which is not told it lacks root.
    const fake = await sim(false, "cluster", "--nodes", "2", "--gateways", "2", "--fake");
    expect(fake.code).toBe(0);
    if (isRoot) expect(fake.stderr).toBe("");
    expect(fake.stdout).toBe(stdout);
  });

  it("refuses a ROUTES.yaml Route the agent would refuse, naming the field and value, before it builds anything", async () => {
    const routes = join(dir, "bad-route.yaml");
    writeFileSync(
      routes,
      "kind: Route\nmetadata: {name: vpn}\nspec: {destinations: [10.0.0.0/8], gateways: [notanip]}\n",
    );
    const { code, stdout, stderr } = await sim(false, "cluster", "--fake", routes);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      `kroute-sim cluster: ${routes}: document 1: Route "vpn" would be refused by the agent: spec.gateways[0]: "notanip" is not an IPv4 or IPv6 address\n`,
    );
  });
});

describeAsRoot("kroute-sim cluster as root where no network namespace can be made", () => {
  it("says why on stderr and runs the same scenario on fake kernels", async () => {
    // Docker's default for a root container: no CAP_SYS_ADMIN, so /run/netns cannot be mounted.
    const withoutSysAdmin = ["--inh-caps=-sys_admin", "--bounding-set=-sys_admin", process.execPath, CLI];
    const args = ["cluster", "--nodes", "2", "--gateways", "2"];
    const { stdout, stderr } = await exec("setpriv", [...withoutSysAdmin, ...args], { maxBuffer: 64 << 20 });
    expect(stderr).toMatch(
      /^kroute-sim cluster: root, but ip netns add kr-check-\w+ failed: .+, so no network namespaces: running the same scenario on fake kernels\n$/,
    );
    expect(stdout).toBe((await sim(false, ...args, "--fake")).stdout);
  });
});

describeAsRoot("kroute-sim cluster --report on real kernels", () => {
  const dir = mkdtempSync(join(tmpdir(), "kroute-sim-cluster-report-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the timeline replayed from the agents' recordings", async () => {
    const report = join(dir, "real.html");
    const { code, stdout, stderr } = await sim(
      false,
      "cluster",
      "--nodes",
      "1",
      "--gateways",
      "1",
      "--report",
      report,
    );
    expect(stderr).toBe("");
    expect(stdout).toContain("cluster: every check held; everything torn down.");
    expect(code).toBe(0);
    const html = expectReport(report, ["node-1"]);
    // Routes programmed on the real node: some ops ticks.
    expect(html).toMatch(/class="op"><title>seq \d+: \d+ ops<\/title>/);
  });
});
