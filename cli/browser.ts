import { spawn } from "child_process";

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
