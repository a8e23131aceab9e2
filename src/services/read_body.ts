// Decodes a downstream response body defensively: the result is kept in saga
// snapshots and logs, so it must be small and must never throw on odd content.

// One decoder for every body: a whole-buffer decode keeps no state between calls.
const utf8 = new TextDecoder();

/** What is kept of a body; downstream success bodies are far smaller. */
export const MAX_BODY_BYTES = 4096;

/**
 * The body parsed as JSON when it is complete and valid JSON (whatever the
 * content-type says), else its text cut to `maxBytes`; undefined when empty.
 * `bytes` may hold one byte more than `maxBytes`: that says the body was cut.
 */
export function decodeBody(bytes: Uint8Array, maxBytes: number = MAX_BODY_BYTES): unknown {
  const truncated = bytes.byteLength > maxBytes;
  const text = utf8.decode(truncated ? bytes.subarray(0, maxBytes) : bytes);
  if (text.trim() === "") return undefined;
  if (!truncated) {
    try {
      return JSON.parse(text);
    } catch {
      // Not JSON (an HTML error page, plain text): keep the text instead.
    }
  }
  return text;
}
