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

/**
 * What a UTF-8 decoder puts for bytes that are not UTF-8. A binary file's first line can
 * hold no control character (a PNG's is 89 50 4e 47, ended by its \r), and only this
 * says it is not text. Only lines that are no JSON get here: a U+FFFD written in an
 * event's strings is never taken for one, in a malformed line it is.
 */
const NOT_UTF8 = "\ufffd";

/** Why the line cannot be a log line, when it is not text; undefined when it is. */
export function notText(line: string, lineNumber: number): string | undefined {
  if (lineNumber === 1 && line.startsWith(GZIP_START))
    return "compressed with gzip (it starts with gzip's bytes 1f 8b): decompress it first (gunzip)";
  const control = firstControl(line);
  const notUtf8 = line.indexOf(NOT_UTF8);
  if (control < 0 && notUtf8 < 0) return undefined;
  if (notUtf8 >= 0 && (control < 0 || notUtf8 < control))
    return `line ${lineNumber}: not text (bytes that are not UTF-8 at character ${notUtf8 + 1}): an event log is JSON lines`;
  const code = line.charCodeAt(control).toString(16).padStart(2, "0");
  return `line ${lineNumber}: not text (control character 0x${code} at character ${control + 1}): an event log is JSON lines`;
}
