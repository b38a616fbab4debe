export type { Json, JsonObject } from "./json.ts";
export { CRD_VERSION, DOKS_GROUP, KROUTE_GROUP } from "./resources.ts";
export {
  createKubeApiDouble,
  type FailNextOptions,
  type KubeApiDouble,
  type KubeApiDoubleOptions,
  type KubeApiFaults,
  type RequestLogEntry,
  type TypeRef,
  type Verb,
} from "./server.ts";
