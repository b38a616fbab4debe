/**
 * How the real `kroute-agent` bin ends when more than one SIGTERM is at work: a
 * recording file that takes nothing. JSON log lines only, one of them saying why, and
 * an exit status the kubelet and an operator can act on. From the TypeScript sources
 * (bin-smoke.test.ts runs every form of the bin).
 */
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeAsRoot } from "@kroute/testkit";
import { afterEach, expect, it } from "vitest";
import { type AgentProcess, spawnAgent } from "./bin-process.ts";
import { createWorld, destroyWorld, eventually, kernelRoutes, route, type World } from "./e2e-support.ts";

const EGRESS = { "main 192.0.2.0/24": ["10.0.0.3"] };

let world: World | undefined;
let agent: AgentProcess | undefined;
const openFds: number[] = [];

afterEach(async () => {
  if (agent !== undefined && agent.child.exitCode === null) agent.child.kill("SIGKILL");
  agent = undefined;
  for (const fd of openFds.splice(0)) closeSync(fd);
  await destroyWorld(world);
  world = undefined;
});

async function runningAgent(options: Parameters<typeof spawnAgent>[1] = {}): Promise<AgentProcess> {
  world = await createWorld();
  world.api.apply(route("egress", { destinations: ["192.0.2.0/24"], gateways: ["10.0.0.3"], probe: false }));
  agent = await spawnAgent(world, options);
  await agent.ready();
  const ns = world.ns;
  await eventually(async () => expect(await kernelRoutes(ns)).toEqual(EGRESS));
  return agent;
}

/**
 * A named pipe, full, that nobody reads: the recording file of a disk that takes
 * nothing. The test holds it open (read and write, so no open of it waits) until the end.
 */
function fullPipe(): string {
  const path = join(mkdtempSync(join(tmpdir(), "kroute-record-")), "events.fifo");
  execFileSync("mkfifo", [path]);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  openFds.push(fd);
  const chunk = Buffer.alloc(4096, "x");
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
  }
  return path;
}

describeAsRoot("kroute-agent bin, ending", () => {
  it("SIGTERM with a recording file that takes nothing: the stop gives up on it, says so, and exits 0", async () => {
    const file = fullPipe();
    const a = await runningAgent({ args: [`--record=${file}`] });
    const sent = performance.now();
    a.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    // 5 s for the file, well inside the DaemonSet's 15 s grace period.
    expect(performance.now() - sent).toBeLessThan(9000);
    expect(a.stderr()).toBe("");
    expect(a.logLines()).toContainEqual(
      expect.objectContaining({
        level: "error",
        file,
        msg: expect.stringMatching(
          new RegExp(`^recording to ${file} stopped: it took no more within 5000 ms of the stop: \\d+ bytes`),
        ),
      }),
    );
  });
});
