/**
 * Child process for prober.test.ts: one echo with the default socket choice (`auto`),
 * run without CAP_NET_RAW. Prints {"kind": ..., "ok": ...} as one JSON line.
 */
import type { IpAddr } from "@kroute/core";
import { createIcmpProber } from "../../src/icmp/prober.ts";

const gateway = process.argv[2] as IpAddr;
const prober = createIcmpProber();
try {
  const result = await prober.echo(gateway, 1000);
  process.stdout.write(
    `${JSON.stringify({ kind: prober.socketKind(gateway.includes(":") ? 6 : 4), ok: result.ok })}\n`,
  );
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
} finally {
  prober.close();
}
