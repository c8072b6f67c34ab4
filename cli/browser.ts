import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Opens a URL or file in the desktop's browser, if there is one; quietly does nothing otherwise. */
export function openInBrowser(target: string): void {
    const opener = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
    try {
        const child = spawn(opener, [target], { stdio: "ignore", detached: true });
        child.on("error", () => undefined);
        child.unref();
    } catch {
        // No browser here: the printed address is enough.
    }
}

/**
 * A file that sends the browser on to a secret URL (one with a token), readable by this user
 * only: the opener's command line, which any local user can read with `ps`, names the file.
 */
export function launcherFile(secretUrl: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootboots-open-"));
    const file = path.join(dir, "open.html");
    const escaped = secretUrl.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    fs.writeFileSync(
        file,
        `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0; url=${escaped}"><title>bootboots</title>`,
        { mode: 0o600 },
    );
    return file;
}

/** Opens a secret URL through a launcher file, so that the token never appears on a process's command line. */
export function openSecretUrl(secretUrl: string): string {
    const file = launcherFile(secretUrl);
    openInBrowser(file);
    return file;
}
