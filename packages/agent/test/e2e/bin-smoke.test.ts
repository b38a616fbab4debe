/**
 * The real `kroute-agent` bin as a process: starts against the API double and a
 * kernel namespace, programs a Route, answers /readyz, and on SIGTERM exits 0 leaving
 * the route in place; then `kroute-agent cleanup` removes it. Run three times: from
 * the TypeScript sources, as the bundle the image ships, and as installed from the
 * packed @kroute/agent (its lib/, under node_modules, where Node strips no types).
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describeAsRoot, type InstalledPackages, installPackedWorkspace } from "@kroute/testkit";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { bundleAgent } from "../../src/deploy/bundle.ts";
import { type AgentProcess, sourceBin, spawnAgent } from "./bin-process.ts";
import {
  createWorld,
  destroyWorld,
  eventually,
  kernelRoutes,
  NODE,
  route,
  type World,
} from "./e2e-support.ts";

/** Inside the package's node_modules, so that the bundle finds koffi as it does in the image. */
const bundleDir = resolve(import.meta.dirname, `../../node_modules/.cache/bin-smoke-${process.pid}`);

let world: World | undefined;
let agent: AgentProcess | undefined;

afterEach(async () => {
  if (agent !== undefined && agent.child.exitCode === null) agent.child.kill("SIGKILL");
  agent = undefined;
  await destroyWorld(world);
  world = undefined;
});

/** The tests both forms of the bin pass; `binPath` is read once the suite has built it. */
function binTests(binPath: () => string): void {
  it("runs until SIGTERM, leaves routes in place, and cleanup removes them", async () => {
    const bin = binPath();
    world = await createWorld();
    world.api.apply(
      route("egress", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"], probe: false }),
    );
    agent = await spawnAgent(world, { bin });
    const ns = world.ns;
    await agent.ready();
    await eventually(async () =>
      expect(await kernelRoutes(ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3"] }),
    );

    agent.child.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    expect(agent.stderr()).toBe("");
    const lines = agent.logLines();
    expect(lines.every((l) => l.node === NODE)).toBe(true);
    expect(lines.map((l) => l.msg)).toContain("stopping; routes stay in place");
    expect(await kernelRoutes(ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3"] });

    const { stdout: report } = await promisify(execFile)(process.execPath, [
      bin,
      "cleanup",
      `--netns=${ns.name}`,
    ]);
    expect(report).toMatch(/kroute objects removed, 0 failed/);
    expect(await kernelRoutes(ns)).toEqual({});
    expect(await ns.ipJson("route", "show", "default")).toEqual([
      expect.objectContaining({ gateway: "10.0.0.1" }),
    ]);
  });

  it("prints its usage, cleanup's included, for --help after cleanup too", async () => {
    for (const args of [["--help"], ["cleanup", "--help"], ["cleanup", "--dry-run", "-h"]]) {
      const { stdout } = await promisify(execFile)(process.execPath, [binPath(), ...args]);
      expect(stdout).toMatch(/^usage: kroute-agent \[flags\]/);
      expect(stdout).toMatch(/kroute-agent cleanup \[flags\]/);
    }
  });

  it("exits with status 2 and names the flag on bad settings", async () => {
    const bin = binPath();
    const result = await promisify(execFile)(process.execPath, [bin, "--probe-fall=zero"], {
      env: { ...process.env, NODE_NAME: NODE },
    }).catch((error: { code: number; stderr: string }) => error);
    expect("code" in result ? result.code : 0).toBe(2);
    expect(result.stderr).toMatch(/--probe-fall: "zero" is not a whole number/);
  });
}

describeAsRoot("kroute-agent bin, from sources", () => {
  binTests(() => sourceBin);

  // Sources only: the fixture replaces a source module of the driver, which a bundle does not load.
  it("exits with status 2 and names the setting when the kernel cannot honour it", async () => {
    world = await createWorld();
    const kubeconfig = join(tmpdir(), `kroute-kubeconfig-${world.ns.name}.json`);
    writeFileSync(kubeconfig, world.api.kubeconfig());
    const oldKernel = resolve(import.meta.dirname, "fixtures/kernel-without-nexthops.mjs");
    const result = await promisify(execFile)(
      process.execPath,
      [
        `--import=${oldKernel}`,
        sourceBin,
        `--netns=${world.ns.name}`,
        `--kubeconfig=${kubeconfig}`,
        "--health-address=127.0.0.1:0",
        "--metrics-address=127.0.0.1:0",
        `--resolv-conf=${world.resolvConf}`,
        "--nexthop-mode=groups",
      ],
      { env: { ...process.env, NODE_NAME: NODE } },
    ).catch((error: { code: number; stderr: string }) => error);
    expect("code" in result ? result.code : 0).toBe(2);
    expect(result.stderr).toMatch(
      /^kroute-agent: --nexthop-mode: "groups" needs nexthop objects, which this kernel lacks/,
    );
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(await kernelRoutes(world.ns)).toEqual({});
  });
});

describeAsRoot("kroute-agent bin, bundled", () => {
  let bundle = "";
  beforeAll(async () => {
    bundle = await bundleAgent(bundleDir);
  });
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));
  binTests(() => bundle);

  it("leaves out the parts of client-node's generated API the agent does not use", () => {
    const code = readdirSync(bundleDir)
      .filter((f) => f.endsWith(".js"))
      .map((f) => readFileSync(join(bundleDir, f), "utf8"))
      .join("\n");
    // A model class of a kind the agent never reads, and the generated API classes.
    expect(code).not.toContain("AdmissionregistrationV1ServiceReference");
    expect(code).not.toContain("ObservableCoreV1Api");
    // undici (its HTTP parser is llhttp) is resolved to the module that stands in for it.
    expect(code).not.toContain("llhttp");
    expect(code).toContain("undici is left out of the kroute-agent bundle");
    expect(code).toContain("kroute-agent");
  });

  it("is ASCII: V8 would hold a module with one character beyond Latin-1 at two bytes a character", () => {
    for (const file of readdirSync(bundleDir).filter((f) => f.endsWith(".js"))) {
      const beyondAscii = [...readFileSync(join(bundleDir, file), "utf8")].filter(
        (c) => c.charCodeAt(0) > 0x7f,
      );
      expect({ file, beyondAscii }).toEqual({ file, beyondAscii: [] });
    }
  });
});

describeAsRoot("kroute-agent bin, installed from its package", () => {
  let installed: InstalledPackages | undefined;
  beforeAll(async () => {
    installed = await installPackedWorkspace();
  }, 180_000);
  afterAll(() => installed?.remove());
  binTests(() => {
    if (installed === undefined) throw new Error("the packages were not installed");
    return installed.bin("@kroute/agent", "kroute-agent");
  });
});
