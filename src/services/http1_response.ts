// Reads one HTTP/1.1 response off a connection (RFC 9112): the status line,
// the header fields, and the body framed by Transfer-Encoding: chunked, by
// Content-Length, or by the end of the connection. Only what a client of
// JSON services needs: no trailers kept, no upgrades, no pipelining.
//
// The reader keeps at most one read outstanding, and may start it before the
// response is expected: a pooled idle connection waits on it, so a server
// that closes the connection (or sends anything unasked) is seen at once,
// and the same read then carries the first bytes of the next response.

/** The response broke the protocol, or ended before it was complete. */
export class HttpProtocolError extends Error {
  override name = "HttpProtocolError";
}

/** Longest status or header line; longer means a broken or hostile peer. */
const MAX_LINE_BYTES = 8192;
/** All header lines of one response together. */
const MAX_HEAD_BYTES = 65536;
/** Longest chunk-size line (hex digits and extensions). */
const MAX_CHUNK_LINE_BYTES = 1024;

export interface ReadResponse {
  status: number;
  /** Lower-case field name → value (the last one when repeated). */
  headers: Map<string, string>;
  /** At most maxBodyBytes + 1 bytes: one more tells it was cut. */
  body: Uint8Array;
  /** The connection ended cleanly after this response and may carry the next request. */
  reusable: boolean;
}

export class ResponseReader {
  readonly #conn: Deno.Conn;
  #buf = new Uint8Array(16384);
  #start = 0;
  #end = 0;
  #pending: Promise<number | null> | null = null;
  /** Bytes read since the last exchange began. */
  received = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Bytes read but not consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Starts the next read now and resolves when it completes: for an idle
   * connection, anything it resolves with means the connection is done.
   */
  prefetch(): Promise<unknown> {
    return this.#read();
  }

  #read(): Promise<number | null> {
    if (this.#pending) return this.#pending;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const grown = new Uint8Array(this.#buf.length * 2);
        grown.set(this.#buf);
        this.#buf = grown;
      }
    }
    const into = this.#buf.subarray(this.#end);
    this.#pending = this.#conn.read(into).then(this.#onRead, this.#onReadError);
    return this.#pending;
  }

  // Made once per connection, not per read.
  readonly #onRead = (n: number | null): number | null => {
    this.#pending = null;
    if (n !== null) {
      this.#end += n;
      this.received += n;
    }
    return n;
  };
  readonly #onReadError = (err: unknown): never => {
    this.#pending = null;
    throw err;
  };

  /** Reads more bytes; false at the end of the connection. */
  async #more(): Promise<boolean> {
    return (await this.#read()) !== null;
  }

  /** The next line, without its CRLF (a bare LF is accepted, as RFC 9112 allows). */
  async line(maxBytes: number): Promise<string> {
    for (let from = this.#start;;) {
      // Searched in place, not in a view made per line;
      // bytes past #end are stale, so a hit there is no hit.
      const at = this.#buf.indexOf(10, from);
      if (at >= 0 && at < this.#end) {
        if (at - this.#start > maxBytes) throw new HttpProtocolError("response line too long");
        const end = at > this.#start && this.#buf[at - 1] === 13 ? at - 1 : at;
        const text = latin1(this.#buf.subarray(this.#start, end));
        this.#start = at + 1;
        return text;
      }
      if (this.#end - this.#start > maxBytes) throw new HttpProtocolError("response line too long");
      from = this.#end;
      const offset = from - this.#start;
      if (!await this.#more()) throw new HttpProtocolError("connection closed mid-response");
      from = this.#start + offset; // the buffer may have moved
    }
  }

  /** Up to `max` buffered or newly read bytes, valid until the next read; null at the end. */
  async bytes(max: number): Promise<Uint8Array | null> {
    if (this.#start === this.#end && !await this.#more()) return null;
    const n = Math.min(max, this.#end - this.#start);
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }
}

/** Collects a body up to maxBytes + 1 bytes. */
class Body {
  readonly #max: number;
  readonly #parts: Uint8Array[] = [];
  size = 0;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  get full(): boolean {
    return this.size > this.#max;
  }

  add(bytes: Uint8Array): void {
    const keep = Math.min(bytes.byteLength, this.#max + 1 - this.size);
    if (keep <= 0) return;
    this.#parts.push(bytes.slice(0, keep));
    this.size += keep;
  }

  bytes(): Uint8Array {
    if (this.#parts.length === 1) return this.#parts[0]!;
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}

/** Reads the response to a request with `method`, keeping at most maxBodyBytes + 1 of its body. */
export async function readResponse(
  reader: ResponseReader,
  method: string,
  maxBodyBytes: number,
): Promise<ReadResponse> {
  let head: { status: number; minor: string; headers: Map<string, string> };
  do head = await readHead(reader); while (head.status >= 100 && head.status < 200); // interim
  const { status, headers } = head;
  const body = new Body(maxBodyBytes);
  let framed = true; // its end is known without the connection closing

  const transferEncoding = headers.get("transfer-encoding");
  const contentLength = headers.get("content-length");
  if (method === "HEAD" || status === 204 || status === 304) {
    // No body, whatever the headers say.
  } else if (transferEncoding !== undefined) {
    if (/(^|,)\s*chunked\s*$/i.test(transferEncoding)) await readChunked(reader, body);
    else framed = await readToEnd(reader, body);
  } else if (contentLength !== undefined) {
    if (!/^\d{1,15}$/.test(contentLength)) {
      throw new HttpProtocolError(`invalid content-length "${contentLength.slice(0, 40)}"`);
    }
    await readLength(reader, Number(contentLength), body);
  } else {
    framed = await readToEnd(reader, body);
  }

  const reusable = framed && !body.full && head.minor === "1" && reader.buffered === 0 &&
    !/(^|,)\s*close\s*(,|$)/i.test(headers.get("connection") ?? "");
  return { status, headers, body: body.bytes(), reusable };
}

async function readHead(reader: ResponseReader) {
  const statusLine = await reader.line(MAX_LINE_BYTES);
  const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(statusLine);
  if (!m) throw new HttpProtocolError(`malformed status line "${statusLine.slice(0, 80)}"`);
  const headers = new Map<string, string>();
  for (let size = 0;;) {
    const line = await reader.line(MAX_LINE_BYTES);
    if (line === "") break;
    size += line.length;
    if (size > MAX_HEAD_BYTES) throw new HttpProtocolError("response headers too large");
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpProtocolError(`malformed header line "${line.slice(0, 80)}"`);
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(m[2]), minor: m[1]!, headers };
}

async function readLength(reader: ResponseReader, length: number, body: Body): Promise<void> {
  for (let left = length; left > 0 && !body.full;) {
    const bytes = await reader.bytes(left);
    if (bytes === null) throw new HttpProtocolError("connection closed mid-body");
    body.add(bytes);
    left -= bytes.byteLength;
  }
}

/** Reads until the connection ends (or the body is cut); false: the connection is spent. */
async function readToEnd(reader: ResponseReader, body: Body): Promise<boolean> {
  while (!body.full) {
    const bytes = await reader.bytes(Number.MAX_SAFE_INTEGER);
    if (bytes === null) break;
    body.add(bytes);
  }
  return false;
}

async function readChunked(reader: ResponseReader, body: Body): Promise<void> {
  for (;;) {
    const sizeLine = await reader.line(MAX_CHUNK_LINE_BYTES);
    const hex = sizeLine.split(";", 1)[0]!.trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) {
      throw new HttpProtocolError(`malformed chunk size "${sizeLine.slice(0, 40)}"`);
    }
    const size = parseInt(hex, 16);
    if (size === 0) break;
    await readLength(reader, size, body);
    if (body.full) return;
    if (await reader.line(MAX_CHUNK_LINE_BYTES) !== "") {
      throw new HttpProtocolError("chunk longer than its size");
    }
  }
  // Trailer fields, up to the empty line that ends the message: read, not kept.
  for (let size = 0;;) {
    const line = await reader.line(MAX_LINE_BYTES);
    if (line === "") return;
    size += line.length;
    if (size > MAX_HEAD_BYTES) throw new HttpProtocolError("response trailers too large");
  }
}

/**
 * Header bytes as ISO-8859-1 (RFC 9110 §5.5), a char per byte: measured
 * several times faster than a TextDecoder for short lines. A line is at most
 * MAX_LINE_BYTES, well within the arguments a call may take.
 */
function latin1(bytes: Uint8Array): string {
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}
