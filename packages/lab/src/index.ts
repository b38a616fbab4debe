/**
 * The parts of a cluster in a box, real where users have real parts: network
 * namespaces with veth and bridge topologies, a UDP echo server and flow sender that
 * report the source address each flow arrived from, and the Kubernetes API double (a
 * real HTTP server with list/watch semantics, DIFFERENCES.md beside it).
 *
 * Public, unlike testkit: `kroute-sim cluster` builds its cluster from these, and the
 * tests of every package use the same ones.
 */
export * from "./kube-api/index.ts";
export * from "./link-local-routers.ts";
export * from "./netns.ts";
export * from "./nftables.ts";
export * from "./topology.ts";
export * from "./udp-flows.ts";
