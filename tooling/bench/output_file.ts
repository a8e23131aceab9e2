// The results file is checked before anything is measured: a run of minutes
// must not end on a path it cannot write.
import { dirname, resolve } from "node:path";

/**
 * Creates the file's folder and opens the file for writing, as the final
 * write will; a file that did not exist is removed again, so a run that fails
 * later leaves no empty results behind. Returns why it cannot be written, or
 * undefined when it can.
 */
export async function unwritableReason(path: string): Promise<string | undefined> {
  try {
    await Deno.mkdir(dirname(resolve(path)), { recursive: true });
    const existed = await Deno.lstat(path).then(() => true, (err) => {
      if (err instanceof Deno.errors.NotFound) return false;
      throw err;
    });
    // No truncate: an earlier result stays until this run's replaces it.
    (await Deno.open(path, { write: true, create: true })).close();
    if (!existed) await Deno.remove(path);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
