/**
 * A renderer for the small part of Helm's template language that kroute's chart uses,
 * so the chart can be rendered and checked here, where no helm binary can be had.
 *
 * Supported, with Go text/template and Sprig semantics: `{{ .a.b }}` field paths,
 * string and number literals, pipelines, `{{-`/`-}}` whitespace trimming,
 * `if`/`else`/`end` (Go truthiness), comments, and the functions quote, default,
 * join, toYaml, indent and nindent. Anything else is an error, never a guess: a chart
 * change that needs more fails the tests until this renderer learns it.
 *
 * Known difference: toYaml uses the `yaml` package with sorted keys (as Sprig's
 * go-yaml does), which may quote some scalars differently; the rendered documents
 * parse to the same values.
 */
import { stringify } from "yaml";

export type TemplateValue = unknown;

type Token = { kind: "text"; text: string } | { kind: "action"; body: string };

type Node =
  | { kind: "text"; text: string }
  | { kind: "output"; pipeline: string }
  | { kind: "if"; condition: string; whenTrue: Node[]; whenFalse: Node[] };

export class TemplateError extends Error {
  override readonly name = "TemplateError";
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let rest = source;
  while (rest.length > 0) {
    const open = rest.indexOf("{{");
    if (open < 0) {
      tokens.push({ kind: "text", text: rest });
      break;
    }
    const close = rest.indexOf("}}", open);
    if (close < 0) throw new TemplateError(`unclosed action: ${rest.slice(open, open + 40)}`);
    let text = rest.slice(0, open);
    let body = rest.slice(open + 2, close);
    if (body.startsWith("- ")) {
      text = text.replace(/\s+$/, "");
      body = body.slice(1);
    }
    let trimAfter = false;
    if (body.endsWith(" -")) {
      trimAfter = true;
      body = body.slice(0, -1);
    }
    tokens.push({ kind: "text", text }, { kind: "action", body: body.trim() });
    rest = rest.slice(close + 2);
    if (trimAfter) rest = rest.replace(/^\s+/, "");
  }
  return tokens;
}

function parse(tokens: Token[]): Node[] {
  let position = 0;
  function block(terminators: readonly string[]): { nodes: Node[]; end: string } {
    const nodes: Node[] = [];
    while (position < tokens.length) {
      const token = tokens[position++];
      if (token === undefined) break;
      if (token.kind === "text") {
        if (token.text !== "") nodes.push({ kind: "text", text: token.text });
        continue;
      }
      const body = token.body;
      if (body.startsWith("/*")) continue;
      if (terminators.includes(body)) return { nodes, end: body };
      if (body.startsWith("if ")) {
        const whenTrue = block(["else", "end"]);
        const whenFalse = whenTrue.end === "else" ? block(["end"]).nodes : [];
        nodes.push({ kind: "if", condition: body.slice(3).trim(), whenTrue: whenTrue.nodes, whenFalse });
        continue;
      }
      if (/^(else|end|range|with|define|template|include|block)\b/.test(body)) {
        throw new TemplateError(`unsupported or misplaced action: {{ ${body} }}`);
      }
      nodes.push({ kind: "output", pipeline: body });
    }
    if (terminators.length > 0) throw new TemplateError(`missing {{ ${terminators.join(" or ")} }}`);
    return { nodes, end: "" };
  }
  return block([]).nodes;
}

/** Splits on a separator outside double-quoted strings. */
function splitOutsideQuotes(text: string, separator: RegExp): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? "";
    if (ch === '"' && text[i - 1] !== "\\") quoted = !quoted;
    if (!quoted && separator.test(ch)) {
      parts.push(current);
      current = "";
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

function lookup(context: TemplateValue, path: string): TemplateValue {
  let value: TemplateValue = context;
  for (const key of path.split(".").filter((k) => k !== "")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function term(text: string, context: TemplateValue): TemplateValue {
  if (text.startsWith('"')) return JSON.parse(text) as string;
  if (/^-?\d+$/.test(text)) return Number(text);
  if (text === "true" || text === "false") return text === "true";
  if (text.startsWith(".")) return lookup(context, text);
  throw new TemplateError(`unsupported term: ${text}`);
}

/** Go's truthiness: false, 0, nil, and empty strings, arrays and maps are false. */
export function truthy(value: TemplateValue): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

function toYaml(value: TemplateValue): string {
  if (value === undefined || value === null) return "null";
  return stringify(value, { sortMapEntries: true, lineWidth: 0 }).replace(/\n$/, "");
}

function indentLines(text: string, spaces: number): string {
  const pad = " ".repeat(spaces);
  return text
    .split("\n")
    .map((line) => pad + line)
    .join("\n");
}

function call(name: string, args: TemplateValue[]): TemplateValue {
  const [first, second] = args;
  switch (name) {
    case "quote":
      return JSON.stringify(args.map((a) => printable(a)).join(" "));
    case "default":
      return truthy(second) ? second : first;
    case "join":
      if (!Array.isArray(second)) throw new TemplateError("join: the second argument must be a list");
      return second.map((item) => printable(item)).join(String(first));
    case "toYaml":
      return toYaml(first);
    case "indent":
      return indentLines(String(second), Number(first));
    case "nindent":
      return `\n${indentLines(String(second), Number(first))}`;
    default:
      throw new TemplateError(`unsupported function: ${name}`);
  }
}

function evaluate(pipeline: string, context: TemplateValue): TemplateValue {
  let result: TemplateValue;
  let first = true;
  for (const command of splitOutsideQuotes(pipeline, /\|/)) {
    const words = splitOutsideQuotes(command, /\s/);
    const [head, ...rest] = words;
    if (head === undefined) throw new TemplateError(`empty command in: ${pipeline}`);
    const isFunction = /^[a-zA-Z]\w*$/.test(head) && head !== "true" && head !== "false";
    if (!isFunction) {
      if (!first || rest.length > 0) throw new TemplateError(`cannot apply ${command} in: ${pipeline}`);
      result = term(head, context);
    } else {
      const args = rest.map((word) => term(word, context));
      result = call(head, first ? args : [...args, result]);
    }
    first = false;
  }
  return result;
}

function printable(value: TemplateValue): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "object")
    throw new TemplateError(`cannot print a map or list without toYaml: ${toYaml(value)}`);
  return String(value);
}

function renderNodes(nodes: readonly Node[], context: TemplateValue): string {
  let out = "";
  for (const node of nodes) {
    switch (node.kind) {
      case "text":
        out += node.text;
        break;
      case "output":
        out += printable(evaluate(node.pipeline, context));
        break;
      case "if":
        out += renderNodes(
          truthy(evaluate(node.condition, context)) ? node.whenTrue : node.whenFalse,
          context,
        );
        break;
    }
  }
  return out;
}

export function renderTemplate(source: string, context: TemplateValue): string {
  return renderNodes(parse(tokenize(source)), context);
}
