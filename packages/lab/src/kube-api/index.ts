export type { FailNextOptions, KubeApiFaults } from "./faults.ts";
export type { Json, JsonObject } from "./json.ts";
export type { RequestLogEntry } from "./request-log.ts";
export { CRD_VERSION, DOKS_GROUP, KROUTE_GROUP } from "./resources.ts";
export type { Verb } from "./routing.ts";
export {
  createKubeApiDouble,
  type KubeApiDouble,
  type KubeApiDoubleOptions,
  type TypeRef,
} from "./server.ts";
