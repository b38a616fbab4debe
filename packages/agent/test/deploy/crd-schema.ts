/**
 * Validates custom objects against a CRD's openAPIV3Schema with ajv, as the API
 * server's OpenAPI validation does: types, sizes, enums and the formats Kubernetes
 * checks (cidr, ipv4, ipv6, date-time, int64). CEL rules (x-kubernetes-validations)
 * are NOT evaluated here: no CEL implementation with Kubernetes' IP/CIDR library is
 * available to the tests.
 */
import { familyOf, parseIp, parsePrefix } from "@kroute/core";
import { Ajv, type ErrorObject } from "ajv";

const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true });
ajv.addFormat("cidr", (text: string) => text.includes("/") && parsePrefix(text).ok);
ajv.addFormat("ipv4", (text: string) => {
  const ip = parseIp(text);
  return ip.ok && familyOf(ip.value) === 4;
});
ajv.addFormat("ipv6", (text: string) => {
  const ip = parseIp(text);
  return ip.ok && familyOf(ip.value) === 6;
});
ajv.addFormat("date-time", (text: string) => !Number.isNaN(Date.parse(text)));
ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isSafeInteger(n) });

/** `defaulted` is the object with the schema's defaults applied, as the API server stores it. */
export type SchemaCheck = (object: unknown) => { ok: boolean; errors: string[]; defaulted: unknown };

export function compileCrdSchema(schema: object): SchemaCheck {
  const validate = ajv.compile(structuredClone(schema));
  return (object) => {
    const copy = structuredClone(object);
    const ok = validate(copy);
    const errors = (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath} ${e.message ?? ""}`);
    return { ok, errors, defaulted: copy };
  };
}
