/**
 * A LOG line that is not text: a compressed or binary file given as LOG. Said plainly,
 * and without the line itself, whose control bytes would reach the terminal inside the
 * JSON parser's message (which quotes the start of the line).
 */

/** gzip's magic bytes 1f 8b, as a UTF-8 decoder reads them (8b alone is no character). */
const GZIP_START = "\u001f\ufffd";

/** Where the first control character is: C0 but tab (JSON allows none in a line), DEL, C1. */
function firstControl(line: string): number {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || (c >= 0x7f && c <= 0x9f)) return i;
  }
  return -1;
}

/** Why the line cannot be a log line, when it is not text; undefined when it is. */
export function notText(line: string, lineNumber: number): string | undefined {
  if (lineNumber === 1 && line.startsWith(GZIP_START))
    return "compressed with gzip (it starts with gzip's bytes 1f 8b): decompress it first (gunzip)";
  const at = firstControl(line);
  if (at < 0) return undefined;
  const code = line.charCodeAt(at).toString(16).padStart(2, "0");
  return `line ${lineNumber}: not text (control character 0x${code} at character ${at + 1}): an event log is JSON lines`;
}
