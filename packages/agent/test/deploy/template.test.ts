import { describe, expect, it } from "vitest";
import { renderTemplate, TemplateError } from "../../src/deploy/template.ts";

const ctx = {
  Values: { name: "a", list: ["x", "y"], empty: [], map: { b: 1, a: "s" }, zero: 0 },
  Chart: { AppVersion: "1.0" },
};

describe("renderTemplate (Helm subset)", () => {
  it.each([
    ["name: {{ .Values.name }}", "name: a"],
    ["v: {{ .Values.name | quote }}", 'v: "a"'],
    ["t: {{ .Values.missing | default .Chart.AppVersion }}", "t: 1.0"],
    ['t: {{ .Values.name | default "z" }}', "t: a"],
    ['j: {{ .Values.list | join "," | quote }}', 'j: "x,y"'],
    ["m:\n  {{- toYaml .Values.map | nindent 2 }}\nnext", "m:\n  a: s\n  b: 1\nnext"],
    ["a\n  {{- if .Values.empty }}\nyes\n  {{- else }}\nno\n  {{- end }}\nz", "a\nno\nz"],
    ["{{ if .Values.list }}yes{{ end }}", "yes"],
    ["{{ if .Values.zero }}yes{{ else }}no{{ end }}", "no"],
    ["a {{- /* note */ -}} b", "ab"],
  ])("%j", (source, expected) => {
    expect(renderTemplate(source, ctx)).toBe(expected);
  });

  it.each([
    ["{{ range .Values.list }}{{ end }}", /unsupported or misplaced action/],
    ["{{ .Values.name | upper }}", /unsupported function: upper/],
    ["{{ .Values.map }}", /cannot print a map or list without toYaml/],
    ["{{ if .Values.name }}", /missing \{\{ else or end \}\}/],
    ["{{ .Values.name", /unclosed action/],
  ])("refuses %j", (source, message) => {
    expect(() => renderTemplate(source, ctx)).toThrow(TemplateError);
    expect(() => renderTemplate(source, ctx)).toThrow(message);
  });
});
