// The parcel saga's two downstream services, in one loopback server: a depot
// (pick-ups, and returning them) and couriers (deliveries). Records every
// request with its Idempotency-Key; a parcel's destination steers the answer.
export interface Received {
  service: "depot" | "couriers";
  method: string;
  path: string;
  key: string | null;
}

/** A weight the depot cannot lift yet: 503 with Retry-After: 30 (the saga waits in pickingUp). */
export const STUCK_WEIGHT = 13;
/** Destinations the couriers answer with 409, or with 503 while `busy` holds. */
export const UNDELIVERABLE = "nowhere";
export const BUSY = "busy-street";

export function startParcelServices() {
  const received: Received[] = [];
  const pickedUp = new Set<string>();
  let busy = true;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (req) => {
    const url = new URL(req.url);
    const [, service, ...rest] = url.pathname.split("/");
    const path = "/" + rest.join("/");
    const body = req.body ? await req.json().catch(() => null) : null;
    received.push({
      service: service as Received["service"],
      method: req.method,
      path,
      key: req.headers.get("idempotency-key"),
    });
    if (service === "depot" && req.method === "POST" && path === "/pickups") {
      if (body.weight_grams === STUCK_WEIGHT) {
        return Response.json({ error: "no_forklift" }, {
          status: 503,
          headers: { "retry-after": "30" },
        });
      }
      pickedUp.add(body.parcel_id);
      return Response.json({ pickup_id: `p-${body.parcel_id}` }, { status: 201 });
    }
    if (service === "depot" && req.method === "DELETE") {
      const id = decodeURIComponent(path.split("/")[2] ?? "");
      return pickedUp.delete(id)
        ? new Response(null, { status: 204 })
        : Response.json({ error: "no_pickup" }, { status: 404 });
    }
    if (service === "couriers" && req.method === "POST") {
      if (body?.destination === UNDELIVERABLE) {
        return Response.json({ error: "undeliverable" }, { status: 409 });
      }
      if (body?.destination === BUSY && busy) {
        return Response.json({ error: "no_courier" }, { status: 503 });
      }
      return Response.json({ delivery_id: "d-1" }, { status: 200 });
    }
    return Response.json({ error: "not found" }, { status: 404 });
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    urls: { depot: `${base}/depot`, couriers: `${base}/couriers` },
    received,
    pickedUp,
    /** Couriers answer BUSY destinations with 503 until this is called. */
    freeCouriers: () => void (busy = false),
    close: () => server.shutdown(),
  };
}
