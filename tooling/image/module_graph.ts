// What the service loads: `deno info --json src/main.ts`, read as a graph.
// Its `npmPackages` lists every package of the lockfile, so the packages the
// service needs are found from its modules instead: the npm specifiers they
// import, then everything those packages depend on. Each module and package
// is marked static when src/main.ts reaches it without a dynamic import()
// (the embedded PostgreSQL is reached only through one).
//
// test/module_graph_test.ts checks the graph; the image build
// (tooling/image/prune_node_modules.ts) keeps only the packages it needs.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

export interface LocalModule {
  /** Path from the directory `deno info` ran in, e.g. "src/db/client.ts". */
  path: string;
  /** Loaded with src/main.ts (no dynamic import() on the way). */
  static: boolean;
}

export interface NpmPackage {
  /** Package name, e.g. "@statelyai/inspect". */
  name: string;
  /** Deno's id: name@version, with a peer dependency suffix when it has one. */
  id: string;
  /** Where it is installed (under node_modules/.deno/). */
  localPath?: string;
  /** Needed without any dynamic import() being taken. */
  static: boolean;
  /** Imported by a module of the service itself (not only a dependency of a package). */
  imported: boolean;
  /** The service's modules that import it. */
  importedBy: string[];
}

export interface ModuleGraph {
  local: LocalModule[];
  /** Every package the service's modules can reach, imported or depended on. */
  packages: NpmPackage[];
}

interface InfoDependency {
  specifier: string;
  code?: { specifier: string };
  isDynamic?: boolean;
}
interface InfoModule {
  specifier: string;
  kind: string;
  npmPackage?: string;
  dependencies?: InfoDependency[];
}
interface InfoJson {
  roots: string[];
  modules: InfoModule[];
  redirects: Record<string, string>;
  npmPackages: Record<
    string,
    { name: string; version: string; dependencies: string[]; localPath?: string }
  >;
}

/** Runs `deno info --json <entry>` in `cwd` and reads the graph. */
export async function moduleGraph(
  cwd: string | URL,
  entry = "src/main.ts",
  denoArgs: string[] = [],
): Promise<ModuleGraph> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", ...denoArgs, entry],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`deno info failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  const dir = cwd instanceof URL ? cwd.href : pathToFileURL(resolve(cwd)).href;
  return readGraph(JSON.parse(new TextDecoder().decode(out.stdout)), dir);
}

/** The graph of `deno info --json` output; local paths relative to directory URL `base`. */
export function readGraph(info: InfoJson, base: string): ModuleGraph {
  const root = info.roots[0];
  if (root === undefined) throw new Error("deno info: no root module");
  if (!base.endsWith("/")) base += "/";
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (s: string) => info.redirects[s] ?? s;

  // Breadth first from the root: static edges first, so whatever is reachable
  // without import() is marked static before a dynamic path finds it.
  const reach = new Map<string, boolean>(); // module specifier → static
  const importers = new Map<string, Set<string>>(); // npm package id → local modules
  const visit = (start: string[], isStatic: boolean) => {
    const queue = [...start];
    while (queue.length) {
      const specifier = queue.shift()!;
      const module = bySpecifier.get(specifier);
      if (module?.kind !== "esm") continue;
      for (const dep of module.dependencies ?? []) {
        if (!dep.code) continue; // type-only
        if (isStatic && dep.isDynamic) continue;
        const target = resolve(dep.code.specifier);
        const targetModule = bySpecifier.get(target);
        if (targetModule?.npmPackage) {
          const set = importers.get(targetModule.npmPackage) ?? new Set();
          set.add(relative(specifier));
          importers.set(targetModule.npmPackage, set);
        }
        if (!reach.has(target)) {
          reach.set(target, isStatic);
          queue.push(target);
        }
      }
    }
  };
  const relative = (specifier: string) =>
    specifier.startsWith(base) ? specifier.slice(base.length) : specifier;

  reach.set(root, true);
  visit([root], true);
  const staticImports = new Set(
    [...reach].filter(([s, isStatic]) => isStatic && bySpecifier.get(s)?.npmPackage)
      .map(([s]) => bySpecifier.get(s)!.npmPackage!),
  );
  visit([...reach.keys()], false);

  const local: LocalModule[] = [];
  const imported = new Set<string>();
  for (const [specifier, isStatic] of reach) {
    const module = bySpecifier.get(specifier);
    if (module?.npmPackage) imported.add(module.npmPackage);
    else if (specifier.startsWith("file:")) {
      local.push({ path: relative(specifier), static: isStatic });
    }
  }

  // Packages and their dependencies, static ones first.
  const packages = new Map<string, NpmPackage>();
  const walk = (ids: Iterable<string>, isStatic: boolean) => {
    const queue = [...ids];
    while (queue.length) {
      const id = queue.shift()!;
      if (packages.has(id)) continue;
      const entry = info.npmPackages[id];
      if (!entry) throw new Error(`deno info: no npm package "${id}"`);
      packages.set(id, {
        name: entry.name,
        id,
        localPath: entry.localPath,
        static: isStatic,
        imported: imported.has(id),
        importedBy: [...importers.get(id) ?? []].sort(),
      });
      queue.push(...entry.dependencies);
    }
  };
  walk(staticImports, true);
  walk(imported, false);
  return {
    local: local.sort((a, b) => a.path.localeCompare(b.path)),
    packages: [...packages.values()].sort((a, b) => a.id.localeCompare(b.id)),
  };
}
