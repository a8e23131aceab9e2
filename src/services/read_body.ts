// Reads a downstream response body defensively: the result is kept in saga
// snapshots and logs, so it must be small and must never throw on odd content.

/** What is kept of a body; downstream success bodies are far smaller. */
export const MAX_BODY_BYTES = 4096;

/**
 * The body parsed as JSON when it is complete and valid JSON (whatever the
 * content-type says), else its text cut to `maxBytes`; undefined when empty.
 * Rejects only when the stream itself fails (timeout, reset).
 */
export async function readBody(
  response: Response,
  maxBytes: number = MAX_BODY_BYTES,
): Promise<unknown> {
  if (response.body === null) return undefined;
  const declared = Number(response.headers.get("content-length") ?? NaN);
  // The common case, a small body of known size: read in one go, no stream loop.
  const bytes = declared <= maxBytes
    ? new Uint8Array(await response.arrayBuffer())
    : await readAtMost(response.body, maxBytes);
  const truncated = bytes.byteLength > maxBytes;
  const text = new TextDecoder().decode(truncated ? bytes.subarray(0, maxBytes) : bytes);
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

/** Up to `maxBytes` + 1 bytes of the stream (one more tells it was cut), then stops reading. */
async function readAtMost(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size <= maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    // Stops downloading an oversized body and frees the connection; a no-op once drained.
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(size, maxBytes + 1));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, bytes.length - offset);
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}
