/**
 * How the real `kroute-agent` bin ends when something other than a plain SIGTERM ends it: a bug
 * (an uncaught exception, an unhandled rejection), a second signal during the stop, a
 * recording file that takes nothing, a start that fails. Every time: JSON log lines
 * only, one of them saying why, and an exit status the kubelet and an operator can act
 * on. From the TypeScript sources (bin-smoke.test.ts runs every form of the bin).
 */
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describeAsRoot } from "@kroute/testkit";
import { afterEach, expect, it } from "vitest";
import { type AgentProcess, spawnAgent } from "./bin-process.ts";
import { createWorld, destroyWorld, eventually, kernelRoutes, route, type World } from "./e2e-support.ts";

const faultOnSigusr2 = resolve(import.meta.dirname, "fixtures/fault-on-sigusr2.mjs");
const EGRESS = { "main 198.18.0.0/24": ["10.0.0.3"] };

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
  world.api.apply(route("egress", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"], probe: false }));
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

const messages = (a: AgentProcess) => a.logLines().map((l) => l.msg);

describeAsRoot("kroute-agent bin, ending", () => {
  it.each([
    ["throw", "uncaught exception: injected throw; stopping", "injected throw"],
    ["reject", "unhandled promise rejection: injected rejection; stopping", "injected rejection"],
  ])(
    "a bug (a %s nobody handles): one fatal JSON line naming it, the orderly stop, exit 1",
    async (fault, msg, error) => {
      const a = await runningAgent({
        nodeArgs: [`--import=${faultOnSigusr2}`],
        env: { KROUTE_TEST_FAULT: fault },
      });
      a.child.kill("SIGUSR2");
      expect(await a.exited).toBe(1);
      expect(a.stderr()).toBe("");
      const fatal = a.logLines().filter((l) => l.level === "fatal");
      expect(fatal).toEqual([
        expect.objectContaining({
          msg,
          err: expect.objectContaining({ message: error, stack: expect.stringContaining(error) }),
        }),
      ]);
      expect(messages(a).slice(messages(a).indexOf(msg))).toContain("stopping; routes stay in place");
      expect(await kernelRoutes((world as World).ns)).toEqual(EGRESS);
    },
  );

  it("a second signal during the stop: logged, and the process exits at once with 128 + its number", async () => {
    // The stop waits up to 5 s for the recording file, which takes nothing.
    const a = await runningAgent({ args: [`--record=${fullPipe()}`] });
    a.child.kill("SIGTERM");
    await eventually(() => expect(messages(a)).toContain("stopping; routes stay in place"));
    a.child.kill("SIGINT");
    expect(await a.exited).toBe(130);
    // At once: before the stop's 5 s wait for the recording file ended (the stop would log
    // giving up on it), told by what the agent did rather than by this test's clock.
    expect(messages(a).filter((msg) => msg.startsWith("recording to "))).toEqual([]);
    expect(a.stderr()).toBe("");
    expect(a.logLines()).toContainEqual(
      expect.objectContaining({
        level: "error",
        signal: "SIGINT",
        msg: "SIGINT during the stop: exiting at once with status 130",
      }),
    );
    expect(await kernelRoutes((world as World).ns)).toEqual(EGRESS);
  });

  it("SIGTERM with a recording file that takes nothing: the stop gives up on it, says so, and exits 0", async () => {
    const file = fullPipe();
    const a = await runningAgent({ args: [`--record=${file}`] });
    a.child.kill("SIGTERM");
    // 0, not the 1 of a stop that outlasted the agent's deadline (10 s, inside the
    // DaemonSet's 15 s grace period).
    expect(await a.exited).toBe(0);
    // 5 s for the file, by the agent's own clock: from the signal to its last line.
    const lines = a.logLines();
    const signalled = lines.find((l) => l.msg === "signal received");
    expect(Date.parse(String(lines.at(-1)?.time)) - Date.parse(String(signalled?.time))).toBeLessThan(12_000);
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

  it("a start that fails: one fatal JSON line naming why, exit 1, nothing on stderr", async () => {
    world = await createWorld();
    // The later --netns wins over the world's own.
    agent = await spawnAgent(world, { args: ["--netns=kroute-no-such-namespace"] });
    expect(await agent.exited).toBe(1);
    expect(agent.stderr()).toBe("");
    expect(agent.logLines().filter((l) => l.level === "fatal")).toEqual([
      expect.objectContaining({
        msg: expect.stringMatching(/^cannot start: .*kroute-no-such-namespace.*ENOENT/),
      }),
    ]);
  });
});
