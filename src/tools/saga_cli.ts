// `deno task saga <command>`: the admin API from a terminal, for operators
// who live in a shell. It only speaks HTTP to a running orchestrator's admin
// listener (ADMIN_URL, token in ADMIN_TOKEN); it never touches the database.
// Exit codes: 0 done, 1 the API refused or could not be reached, 2 bad usage.
import { parseCommandLine } from "../cli_args.ts";
import { complain, say } from "../cli_output.ts";
import {
  AdminApiError,
  type AdminClient,
  adminClient,
  AdminUnreachableError,
  AdminUrlError,
  DEFAULT_ADMIN_URL,
} from "./saga_cli/client.ts";
import * as render from "./saga_cli/render.ts";

const USAGE = `Usage: deno task saga <command> [options]

Commands:
  list [--status S] [--state X] [--limit N] [--cursor C]
                         sagas, newest first (S: RUNNING, COMPLETED, CANCELLED, NEEDS_ATTENTION)
  show <order_id>        one saga: status, state, errors, history
  counts                 sagas by status
  retry <order_id>       resume one parked (NEEDS_ATTENTION) saga
  retry <order_id> <order_id>… | --state X
                         resume many parked sagas at once (by ids, by state, or both)
  cancel <order_id> [--reason R]
                         cancel a saga its saga type still lets be cancelled
                         (an order: no payment capture attempted yet)
  outbox [--status S] [--limit N] [--cursor C]
                         outbox events, newest first (S: PENDING, PROCESSED, DEAD)
  redrive <event_id>     put a dead-lettered event back to PENDING (fix its cause first)

Options:
  --json                 print the API's JSON answer, for scripts
  -h, --help             this text

Environment:
  ADMIN_URL              the admin API (default ${DEFAULT_ADMIN_URL})
  ADMIN_TOKEN            an operator's bearer token, when the API needs one

Exit codes: 0 done; 1 refused by the API (401, 404, 409, …) or unreachable; 2 bad usage.`;

const OPTIONS = {
  json: { type: "boolean" },
  status: { type: "string" },
  state: { type: "string" },
  limit: { type: "string" },
  cursor: { type: "string" },
  reason: { type: "string" },
} as const;

type Values = ReturnType<typeof parseCommandLine<typeof OPTIONS>>["values"];

/** A command's answer: the API's JSON, and how to say it to a person. */
interface Answer {
  json: unknown;
  text: string;
}

class UsageError extends Error {
  override name = "UsageError";
}

function operands(args: string[], min: number, max: number, what: string): string[] {
  if (args.length < min || args.length > max) throw new UsageError(`expected ${what}`);
  return args;
}

function query(values: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined) q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** The same command for the next page. */
function nextPage(command: string, v: Values) {
  return (cursor: string) =>
    [
      "deno task saga",
      command,
      ...Object.entries({ status: v.status, state: v.state, limit: v.limit })
        .filter(([, x]) => x !== undefined).map(([k, x]) => `--${k} ${x}`),
      `--cursor ${cursor}`,
    ]
      .join(" ");
}

async function run(api: AdminClient, command: string, args: string[], v: Values): Promise<Answer> {
  const id = (raw: string) => encodeURIComponent(raw);
  switch (command) {
    case "list": {
      operands(args, 0, 0, "no operands");
      const page = await api.get<render.SagaPage>(`/sagas${
        query({
          status: v.status,
          state: v.state,
          limit: v.limit,
          cursor: v.cursor,
        })
      }`);
      return { json: page, text: render.sagaList(page, nextPage("list", v)) };
    }
    case "show": {
      const [orderId] = operands(args, 1, 1, "one order_id");
      const saga = await api.get<render.SagaDetail>(`/sagas/${id(orderId!)}`);
      return { json: saga, text: render.saga(saga) };
    }
    case "counts": {
      operands(args, 0, 0, "no operands");
      const counts = await api.get<Record<string, number>>("/sagas/counts");
      return { json: counts, text: render.counts(counts) };
    }
    case "retry": {
      if (args.length === 1 && v.state === undefined) {
        const r = await api.post<{ order_id: string; state: string }>(
          `/sagas/${id(args[0]!)}/retry`,
        );
        return { json: r, text: render.retried(r) };
      }
      if (args.length === 0 && v.state === undefined) {
        throw new UsageError("expected an order_id, several, or --state");
      }
      const body = {
        ...(v.state !== undefined ? { state: v.state } : {}),
        ...(args.length > 0 ? { order_ids: args } : {}),
      };
      const r = await api.post<{ retried: number; more: boolean; limit: number }>(
        "/sagas/retry",
        body,
      );
      return { json: r, text: render.bulkRetried(r) };
    }
    case "cancel": {
      const [orderId] = operands(args, 1, 1, "one order_id");
      const r = await api.post<{ order_id: string; event_id: string; reason: string }>(
        `/sagas/${id(orderId!)}/cancel`,
        v.reason === undefined ? undefined : { reason: v.reason },
      );
      return { json: r, text: render.cancelled(r) };
    }
    case "outbox": {
      operands(args, 0, 0, "no operands");
      const page = await api.get<render.OutboxPage>(`/outbox${
        query({
          status: v.status,
          limit: v.limit,
          cursor: v.cursor,
        })
      }`);
      return { json: page, text: render.outboxList(page, nextPage("outbox", v)) };
    }
    case "redrive": {
      const [eventId] = operands(args, 1, 1, "one event_id");
      const r = await api.post<
        { id: string; order_id: string; event_type: string; previous_error: string | null }
      >(`/outbox/${id(eventId!)}/redrive`);
      return { json: r, text: render.redriven(r) };
    }
    default:
      throw new UsageError(command ? `unknown command "${command}"` : "no command given");
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(Deno.args, OPTIONS, USAGE);
  const [command = "", ...args] = positionals;
  try {
    const api = adminClient(Deno.env.get("ADMIN_URL"), Deno.env.get("ADMIN_TOKEN") || undefined);
    const answer = await run(api, command, args, values);
    say(values.json ? JSON.stringify(answer.json, null, 2) : answer.text);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      complain(`${command || "saga"}: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof AdminUrlError) {
      complain(err.message);
      return 2;
    }
    if (err instanceof AdminApiError) {
      const hint = err.status === 401
        ? Deno.env.get("ADMIN_TOKEN")
          ? " (ADMIN_TOKEN was refused: is it an operator's token?)"
          : " (set ADMIN_TOKEN to an operator's token)"
        : "";
      complain(`${err.status}: ${err.message}${hint}`);
      return 1;
    }
    if (err instanceof AdminUnreachableError) {
      complain(err.message);
      return 1;
    }
    throw err;
  }
}

Deno.exit(await main());
