/**
 * Fresh network namespaces for kernel tests and benchmarks: `kr-<random>`, created
 * with `ip netns add` (so it appears under /var/run/netns and drivers can bind to it
 * by name), with helpers to run `ip` and other commands inside, and destroy it.
 *
 * Commands run through execFile (no shell), so arguments never need quoting.
 */
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  readonly input?: string;
  /** Aborting kills the command (SIGTERM); the promise then rejects once it has exited. */
  readonly signal?: AbortSignal;
}

export interface Netns {
  /** The namespace name, as under /var/run/netns. */
  readonly name: string;
  /** Runs `ip -n NAME ARGS...`; rejects with the command's stderr on failure. */
  ip(...args: string[]): Promise<string>;
  /** Runs `ip -n NAME -batch -` with the given lines on stdin. */
  ipBatch(lines: readonly string[]): Promise<CommandResult>;
  /** Runs any command inside the namespace (`ip netns exec NAME CMD ARGS...`). */
  exec(command: string, args?: readonly string[], options?: ExecOptions): Promise<CommandResult>;
  /** Runs `ip -n NAME -json ARGS...` and parses the output. */
  ipJson<T = unknown>(...args: string[]): Promise<T>;
  /** Deletes the namespace (and every link and route in it). Idempotent. */
  destroy(): Promise<void>;
}

/** A namespace name no concurrent test will pick: `kr-` and 8 random hex digits. */
export function randomNetnsName(prefix = "kr"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/**
 * Runs a command; rejects with its stderr on failure. An aborted command (`signal`) is
 * killed, and the promise settles only once it has exited: execFile itself reports
 * the abort at once, while the process may still be running.
 */
function run(
  command: string,
  args: readonly string[],
  input?: string,
  signal?: AbortSignal,
): Promise<CommandResult> {
  const options = { maxBuffer: 512 * 1024 * 1024, ...(signal === undefined ? {} : { signal }) };
  return new Promise((resolve, reject) => {
    const child = execFile(command, [...args], options, (error, stdout, stderr) => {
      const settle = (): void =>
        error ? reject(commandError(command, args, { ...error, stderr })) : resolve({ stdout, stderr });
      if (child.exitCode === null && child.signalCode === null) child.once("exit", settle);
      else settle();
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function commandError(command: string, args: readonly string[], error: unknown): Error {
  const stderr =
    typeof error === "object" && error !== null && "stderr" in error
      ? String(error.stderr).trim()
      : String(error);
  return new Error(`${command} ${args.join(" ")} failed: ${stderr}`);
}

/**
 * Creates a fresh namespace with its loopback up. The caller must `destroy()` it
 * (use afterAll / try-finally); a leaked `kr-*` namespace can be listed with `ip netns`.
 * `onNamed` hears the name before `ip netns add` runs: a caller that must remove the
 * namespace on any exit registers it there, as an `ip` killed half way (a Ctrl-C reaches
 * the whole process group) leaves the name in /run/netns. A teardown that begins during
 * the add must let this promise settle, then remove the name: removed first, it would
 * be added after. A throw from `onNamed` refuses the namespace: nothing is added.
 */
export async function createNetns(prefix = "kr", onNamed?: (name: string) => void): Promise<Netns> {
  const name = randomNetnsName(prefix);
  onNamed?.(name);
  await run("ip", ["netns", "add", name]);
  const ns: Netns = {
    name,
    async ip(...args) {
      return (await run("ip", ["-n", name, ...args])).stdout;
    },
    ipBatch(lines) {
      return run("ip", ["-n", name, "-batch", "-"], `${lines.join("\n")}\n`);
    },
    exec(command, args = [], options = {}) {
      return run("ip", ["netns", "exec", name, command, ...args], options.input, options.signal);
    },
    async ipJson<T>(...args: string[]) {
      const out = (await run("ip", ["-n", name, "-json", ...args])).stdout.trim();
      return (out === "" ? [] : JSON.parse(out)) as T;
    },
    async destroy() {
      try {
        await run("ip", ["netns", "del", name]);
      } catch (error) {
        if (!String(error).includes("No such file")) throw error;
      }
    },
  };
  try {
    await ns.ip("link", "set", "lo", "up");
  } catch (error) {
    await ns.destroy();
    throw error;
  }
  return ns;
}

/** Synchronous best-effort removal, for process-exit handlers. */
export function destroyNetnsSync(name: string): void {
  try {
    execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
  } catch {
    // already gone
  }
}

/**
 * A fresh namespace (as createNetns) without IPv6 duplicate address detection: its
 * addresses, link-local ones too, are usable as soon as they are added.
 */
export async function createNetnsWithoutDad(prefix = "kr"): Promise<Netns> {
  const ns = await createNetns(prefix);
  try {
    await ns.exec("sysctl", [
      "-q",
      "-w",
      "net.ipv6.conf.all.accept_dad=0",
      "net.ipv6.conf.default.accept_dad=0",
    ]);
  } catch (error) {
    await ns.destroy();
    throw error;
  }
  return ns;
}
