// Pure Mermaid `stateDiagram-v2` text from an XState machine definition, for
// docs/saga.md and `deno task export-machines`. It walks the machine's state
// nodes rather than `machine.toJSON()`, because toJSON() leaves out eventless
// (`always`) transitions, which is how the saga routes its compensation.
//
// `depth` says how deep states are drawn: 1 draws the top-level states only
// (a transition from a nested state is drawn from its top-level ancestor, one
// inside a single top-level state is left out); Infinity draws composite and
// parallel states with everything inside them.
import type { AnyStateMachine, AnyStateNode } from "xstate";

export interface MermaidOptions {
  /** How many levels of states to draw (default: all). */
  depth?: number;
}

interface Transition {
  eventType: string;
  target?: readonly AnyStateNode[];
  guard?: unknown;
}

interface Edge {
  from: AnyStateNode;
  to: AnyStateNode;
  labels: string[];
}

export function toMermaid(machine: AnyStateMachine, opts: MermaidOptions = {}): string {
  const depth = opts.depth ?? Number.POSITIVE_INFINITY;
  const edges = collectEdges(machine.root, depth);
  const lines = ["stateDiagram-v2"];
  writeBlock(machine.root, edges, depth, "  ", lines);
  return lines.join("\n") + "\n";
}

/** The edges to draw, each filed under the state node whose block draws it. */
function collectEdges(root: AnyStateNode, depth: number): Map<AnyStateNode, Edge[]> {
  const byBlock = new Map<AnyStateNode, Edge[]>();
  for (const node of descendants(root)) {
    const transitions: Transition[] = [
      ...[...node.transitions.values()].flat(),
      ...(node.always ?? []),
    ];
    transitions.forEach((t, i) => {
      for (const target of t.target ?? []) {
        const block = commonAncestor(node, target);
        // A transition inside a state that is drawn collapsed is not shown.
        if (block.path.length >= depth) continue;
        const from = childOnPath(block, node);
        const to = childOnPath(block, target);
        if (!from || !to || from === to) continue;
        const elseBranch = !t.guard &&
          transitions.slice(0, i).some((p) => p.eventType === t.eventType && p.guard);
        const label = transitionLabel(t, elseBranch);
        const list = byBlock.get(block) ?? [];
        const edge = list.find((e) => e.from === from && e.to === to);
        if (!edge) list.push({ from, to, labels: [label] });
        else if (!edge.labels.includes(label)) edge.labels.push(label);
        byBlock.set(block, list);
      }
    });
  }
  return byBlock;
}

function writeBlock(
  node: AnyStateNode,
  edges: Map<AnyStateNode, Edge[]>,
  depth: number,
  indent: string,
  lines: string[],
): void {
  const children = Object.values(node.states) as AnyStateNode[];
  children.forEach((child, i) => {
    // Parallel regions are separated by `--` in Mermaid.
    if (node.type === "parallel" && i > 0) lines.push(`${indent}--`);
    const id = nodeId(child);
    const hasInside = Object.keys(child.states).length > 0 && child.path.length < depth;
    if (id !== child.key) lines.push(`${indent}state "${child.key}" as ${id}`);
    if (hasInside) {
      lines.push(`${indent}state ${id} {`);
      writeBlock(child, edges, depth, indent + "  ", lines);
      lines.push(`${indent}}`);
    }
  });
  for (const target of node.type === "parallel" ? [] : node.initial?.target ?? []) {
    lines.push(`${indent}[*] --> ${nodeId(target)}`);
  }
  for (const e of edges.get(node) ?? []) {
    lines.push(`${indent}${nodeId(e.from)} --> ${nodeId(e.to)} : ${e.labels.join(", ")}`);
  }
  for (const child of children) {
    if (child.type === "final") lines.push(`${indent}${nodeId(child)} --> [*]`);
  }
}

/** Top-level states keep their key; nested ones get their path (ids are global in Mermaid). */
function nodeId(node: AnyStateNode): string {
  return node.path.join("_").replace(/[^A-Za-z0-9_]/g, "_");
}

function* descendants(node: AnyStateNode): Generator<AnyStateNode> {
  yield node;
  for (const child of Object.values(node.states) as AnyStateNode[]) yield* descendants(child);
}

function commonAncestor(a: AnyStateNode, b: AnyStateNode): AnyStateNode {
  let node: AnyStateNode | undefined = a.parent;
  while (node && !isWithin(b, node)) node = node.parent;
  return node ?? a.machine.root;
}

function isWithin(node: AnyStateNode, ancestor: AnyStateNode): boolean {
  for (let n: AnyStateNode | undefined = node; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** The child of `block` that `node` is (or is inside of). */
function childOnPath(block: AnyStateNode, node: AnyStateNode): AnyStateNode | undefined {
  const key = node.path[block.path.length];
  return key === undefined ? undefined : block.states[key] as AnyStateNode;
}

/** `RETRY [parkedAt(capturingPayment)]`, `done [succeeded]`, `after retryDelay`, `[else]`. */
function transitionLabel(t: Transition, elseBranch: boolean): string {
  const type = t.eventType;
  const event = type === "" // eventless (`always`)
    ? ""
    : type.startsWith("xstate.done.")
    ? "done"
    : type.startsWith("xstate.error.")
    ? "error"
    : type.startsWith("xstate.after.")
    ? `after ${type.split(".")[2]}`
    : type;
  const guard = elseBranch ? "[else]" : t.guard ? `[${guardLabel(t.guard)}]` : "";
  return [event, guard].filter(Boolean).join(" ") || "always";
}

function guardLabel(guard: unknown): string {
  if (typeof guard === "string") return guard;
  // XState's and()/or()/not() combinators carry the guards they combine.
  const combined = (guard as { guards?: unknown }).guards;
  if (typeof guard === "function" && Array.isArray(combined)) {
    const joiner = guard.name === "or" ? " | " : " & ";
    const parts = combined.map(guardLabel);
    return guard.name === "not" ? `!${parts.join("")}` : parts.join(joiner);
  }
  if (typeof guard === "function") return guard.name || "guard";
  const g = guard as { type?: unknown; params?: unknown };
  const params = g.params && typeof g.params === "object"
    ? Object.values(g.params).filter((v) => ["string", "number", "boolean"].includes(typeof v))
    : [];
  return `${String(g.type ?? "guard")}${params.length ? `(${params.join(", ")})` : ""}`;
}
