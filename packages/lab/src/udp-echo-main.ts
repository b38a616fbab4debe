/**
 * Child-process entry for udp-flows.ts, run inside a namespace with
 * `ip netns exec NS node udp-echo-main.ts ...` (Node cannot enter a namespace itself).
 *
 *   serve ADDRESS PORT        echo every datagram back, prefixed with the source address seen
 *   send ADDRESS PORT COUNT TIMEOUT_MS FIRST_PORT
 *                             one datagram from each of COUNT source ports; prints one JSON
 *                             line {"sent":N,"answered":M,"via":{"<source seen>":count}}
 */
import { createSocket, type Socket } from "node:dgram";

const [mode, address = "", portText = "0", ...rest] = process.argv.slice(2);
const port = Number(portText);
const type = address.includes(":") ? "udp6" : "udp4";

if (mode === "serve") {
  const server = createSocket(type);
  server.on("message", (message, remote) => {
    server.send(Buffer.concat([Buffer.from(`${remote.address}|`), message]), remote.port, remote.address);
  });
  server.bind(port, address, () => process.stdout.write("ready\n"));
} else if (mode === "send") {
  const [countText = "0", timeoutText = "1000", firstPortText = "20000"] = rest;
  const count = Number(countText);
  const firstPort = Number(firstPortText);
  const via: Record<string, number> = {};
  let answered = 0;
  const sockets: Socket[] = [];
  let bound = 0;
  for (let i = 0; i < count; i++) {
    const socket = createSocket(type);
    sockets.push(socket);
    socket.on("message", (message) => {
      const seen = message.toString().split("|")[0] ?? "";
      via[seen] = (via[seen] ?? 0) + 1;
      answered++;
      socket.close();
      if (answered === count) finish();
    });
    socket.bind(firstPort + i, () => {
      socket.send(`flow ${i}`, port, address);
      bound++;
    });
  }
  const timer = setTimeout(finish, Number(timeoutText));
  function finish() {
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify({ sent: bound, answered, via })}\n`);
    process.exit(0);
  }
} else {
  process.stderr.write(`usage: udp-echo-main.ts serve|send ADDRESS PORT ...\n`);
  process.exit(2);
}
