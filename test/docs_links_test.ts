// The documentation stays navigable and self-contained: every relative link
// in README.md and docs/ leads to a file of the repository (and, with a
// #fragment, to a heading that exists there), and no tracked file refers to
// material that lives outside the repository, which a user who clones it
// does not have.
import assert from "node:assert/strict";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** References to files outside the repository (built from parts so this file does not match). */
const OUTSIDE = [
  { what: "../" + "shared", pattern: new RegExp(["\\.\\./", "shared"].join("")) },
  { what: "SP" + "EC", pattern: new RegExp("\\b" + "SP" + "EC" + "\\b") },
  { what: "NOTES" + ".md", pattern: new RegExp("NOTES" + "\\.md") },
  { what: "DESIGN" + ".md", pattern: new RegExp("DESIGN" + "\\.md") },
];

/** Folders never searched when git cannot list the tracked files. */
const SKIPPED_DIRS = new Set([".git", "node_modules", ".data", "coverage"]);

async function trackedFiles(): Promise<string[]> {
  try {
    const out = await new Deno.Command("git", {
      args: ["ls-files", "-z"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) {
      return new TextDecoder().decode(out.stdout).split("\0").filter((f) =>
        f !== "" && !f.split("/").includes("node_modules")
      );
    }
  } catch {
    // No git (an exported tree): walk the folder instead.
  }
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory && !SKIPPED_DIRS.has(entry.name)) await walk(path);
      else if (entry.isFile) files.push(path);
    }
  };
  await walk("");
  return files;
}

/** The markdown files under `dir`, on disk (a page not yet committed is checked too). */
async function markdownUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(ROOT, dir))) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) files.push(...await markdownUnder(path));
      else if (entry.isFile && entry.name.endsWith(".md")) files.push(path);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return files.sort();
}

/** The text of a file, or null when it is binary or gone (deleted but not yet committed). */
async function readText(path: string): Promise<string | null> {
  try {
    const bytes = await Deno.readFile(join(ROOT, path));
    if (bytes.includes(0)) return null;
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** Markdown lines outside fenced code blocks, with their line numbers. */
function proseLines(markdown: string): Array<{ n: number; text: string }> {
  const lines: Array<{ n: number; text: string }> = [];
  let fence: string | null = null;
  markdown.split("\n").forEach((text, i) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
    if (marker && (fence === null || marker.startsWith(fence))) {
      fence = fence === null ? marker : null;
      return;
    }
    if (fence === null) lines.push({ n: i + 1, text });
  });
  return lines;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a markdown file offers (repeated headings get -1, -2, … as on GitHub). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const { text } of proseLines(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!m) continue;
    const base = slug(m[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  return out;
}

/** Inline links and images of a markdown text, outside code. */
function links(markdown: string): Array<{ n: number; target: string }> {
  const out: Array<{ n: number; target: string }> = [];
  for (const { n, text } of proseLines(markdown)) {
    const prose = text.replace(/`[^`]*`/g, "");
    for (const m of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ n, target: m[1]! });
    }
  }
  return out;
}

/** Problems with the relative links of one markdown file of the repository. */
async function deadLinks(file: string): Promise<string[]> {
  const text = await readText(file);
  if (text === null) return [];
  const problems: string[] = [];
  for (const { n, target } of links(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const hash = target.indexOf("#");
    const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const fragment = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
    const resolved = pathPart === "" ? file : normalize(join(dirname(file), pathPart));
    const where = `${file}:${n}: ${target}`;
    if (resolved === ".." || resolved.startsWith("../")) {
      problems.push(`${where}: leads outside the repository`);
      continue;
    }
    let stat: Deno.FileInfo;
    try {
      stat = await Deno.stat(join(ROOT, resolved));
    } catch {
      problems.push(`${where}: no such file`);
      continue;
    }
    if (fragment !== null && fragment !== "") {
      const targetText = stat.isFile ? await readText(resolved) : null;
      if (!resolved.endsWith(".md") || targetText === null) {
        problems.push(`${where}: a #fragment on something that is not a markdown file`);
      } else if (!anchors(targetText).has(fragment)) {
        problems.push(`${where}: no heading "#${fragment}" in ${resolved}`);
      }
    }
  }
  return problems;
}

Deno.test("slug() and anchors() make GitHub's heading anchors", () => {
  assert.equal(
    slug("Behind PgBouncer (or another transaction pooler)"),
    "behind-pgbouncer-or-another-transaction-pooler",
  );
  assert.equal(slug("From a terminal: `deno task saga`"), "from-a-terminal-deno-task-saga");
  assert.equal(slug("A saga parked in NEEDS_ATTENTION"), "a-saga-parked-in-needs_attention");
  assert.equal(
    slug("Calls per service adapt to the service's health"),
    "calls-per-service-adapt-to-the-services-health",
  );
  assert.deepEqual(
    [...anchors("# A\n```\n# not a heading\n```\n## A\n## B #\n")],
    ["a", "a-1", "b"],
  );
  assert.deepEqual(links("[x](a.md#b) `[y](c.md)` ![i](d.png)\n```\n[z](e.md)\n```\n"), [
    { n: 1, target: "a.md#b" },
    { n: 1, target: "d.png" },
  ]);
});

Deno.test("every relative link in README.md and docs/ leads to a file or heading that exists", async () => {
  const docs = ["README.md", ...(await markdownUnder("docs"))];
  const problems = (await Promise.all(docs.map(deadLinks))).flat();
  assert.deepEqual(problems, [], `dead links:\n${problems.join("\n")}`);
});

Deno.test("no tracked file refers to material outside the repository", async () => {
  const problems: string[] = [];
  for (const file of await trackedFiles()) {
    const text = await readText(file);
    if (text === null) continue;
    text.split("\n").forEach((line, i) => {
      for (const { what, pattern } of OUTSIDE) {
        if (pattern.test(line)) {
          problems.push(`${file}:${i + 1}: refers to ${what}: ${line.trim()}`);
        }
      }
    });
  }
  assert.deepEqual(problems, [], `references outside the repository:\n${problems.join("\n")}`);
});
