import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const module = resolve(import.meta.dirname, "../../src/runtime/v8-memory.ts");

/** Whether V8 optimized a hot function in a fresh Node after favourMemoryOverSpeed(options). */
async function optimizesHotCode(optimizingCompilers: boolean): Promise<boolean> {
  const script = `
    const { favourMemoryOverSpeed } = await import(${JSON.stringify(module)});
    favourMemoryOverSpeed({ optimizingCompilers: ${optimizingCompilers} });
    function hot(x) { return (x * 31 + 7) % 1000003; }
    let s = 0;
    for (let i = 0; i < 3e6; i++) s = hot(s + i);
    // V8's OptimizationStatus: bit 4 is "optimized" (Maglev or TurboFan code).
    console.log(JSON.stringify({ optimized: (%GetOptimizationStatus(hot) & 16) !== 0, s }));`;
  const { stdout } = await promisify(execFile)(process.execPath, [
    "--allow-natives-syntax",
    "--input-type=module",
    "-e",
    script,
  ]);
  return (JSON.parse(stdout) as { optimized: boolean }).optimized;
}

describe("favourMemoryOverSpeed", () => {
  it("leaves hot code in bytecode and baseline code unless the optimizing compilers are asked for", async () => {
    expect(await optimizesHotCode(false)).toBe(false);
    expect(await optimizesHotCode(true)).toBe(true);
  });
});
