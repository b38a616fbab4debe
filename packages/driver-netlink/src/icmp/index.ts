export * from "./packet.ts";
export * from "./prober.ts";
export * from "./socket.ts";
