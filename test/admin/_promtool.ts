// Validates Prometheus text with the real parser: `promtool check metrics`
// (Debian package `prometheus`). Missing promtool fails the test loudly: CI
// installs it (.ci/run), and a skipped check would prove nothing.
export async function promtoolCheck(text: string): Promise<void> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(
        "promtool is not installed: install Debian's prometheus package " +
          "(apt-get install -y prometheus) to validate /metrics",
      );
    }
    throw err;
  }
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!out.success) {
    throw new Error(
      `promtool check metrics failed (${out.code}):\n${decode(out.stdout)}${decode(out.stderr)}`,
    );
  }
}
