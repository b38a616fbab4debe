/**
 * A TCP port free on 127.0.0.1 at the moment of asking, for a process under test to
 * listen on (its health or metrics server): the kernel picks it, so tests that run
 * side by side do not collide.
 */
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}
