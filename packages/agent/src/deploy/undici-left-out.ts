/**
 * What the bundle gives client-node in place of the undici package (deploy/bundle.ts).
 * client-node imports undici at the top of its KubeConfig module, for request paths
 * the agent never takes: its own requests go through node:https (kube/rest.ts).
 * Evaluating undici all the same held about 9 MiB of the agent's memory. Should a
 * future change reach one of those paths, it fails at once and says why.
 */
function leftOut(name: string): never {
  throw new Error(
    `undici.${name}: undici is left out of the kroute-agent bundle; Kubernetes requests go through node:https (kube/rest.ts)`,
  );
}

export class Agent {
  constructor() {
    leftOut("Agent");
  }
}

export class ProxyAgent {
  constructor() {
    leftOut("ProxyAgent");
  }
}

export function fetch(): never {
  return leftOut("fetch");
}
