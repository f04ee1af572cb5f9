/**
 * Headless Chromium (Debian's `chromium`) driven over the DevTools protocol: open a page,
 * evaluate expressions in it, wait for a condition. Enough to test a page for real.
 */

interface CdpResponse {
  id?: number;
  result?: { result?: { value?: unknown; description?: string }; exceptionDetails?: unknown };
  error?: { message: string };
}

export class Browser {
  readonly #process: Deno.ChildProcess;
  readonly #socket: WebSocket;
  readonly #profile: string;
  #nextId = 1;
  readonly #pending = new Map<number, (response: CdpResponse) => void>();

  private constructor(process: Deno.ChildProcess, socket: WebSocket, profile: string) {
    this.#process = process;
    this.#socket = socket;
    this.#profile = profile;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data) as CdpResponse;
      if (message.id !== undefined) {
        this.#pending.get(message.id)?.(message);
        this.#pending.delete(message.id);
      }
    };
  }

  /** Starts Chromium with a page of `width`×`height`. */
  static async launch(width = 1280, height = 1000): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
    let process: Deno.ChildProcess;
    try {
      process = new Deno.Command("chromium", {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--hide-scrollbars",
          "--remote-debugging-port=0",
          `--user-data-dir=${profile}`,
          `--window-size=${width},${height}`,
          "about:blank",
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new Error(`cannot start chromium (Debian's package 'chromium'): ${error}`);
    }
    const reader = process.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let endpoint: string | null = null;
    while (endpoint === null) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`chromium exited before its DevTools endpoint: ${text}`);
      text += value;
      endpoint = text.match(/DevTools listening on (ws:\/\/\S+)/)?.[1] ?? null;
    }
    // Keep draining stderr (Chromium logs there) so that it never blocks.
    (async () => {
      while (!(await reader.read()).done) { /* discard */ }
    })();
    const port = new URL(endpoint).port;
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    const page = targets.find((target) => target.type === "page");
    if (page === undefined) throw new Error("chromium has no page");
    const socket = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    return new Browser(process, socket, profile);
  }

  #call(method: string, params: Record<string, unknown> = {}): Promise<CdpResponse> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  async goto(url: string): Promise<void> {
    await this.#call("Page.enable");
    const response = await this.#call("Page.navigate", { url });
    if (response.error) throw new Error(`navigate: ${response.error.message}`);
  }

  /** The value of `expression` in the page (awaited if it is a promise). */
  async evaluate<T>(expression: string): Promise<T> {
    const response = await this.#call("Runtime.evaluate", {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (response.error) throw new Error(`evaluate: ${response.error.message}`);
    if (response.result?.exceptionDetails) {
      throw new Error(`${expression} threw: ${JSON.stringify(response.result.exceptionDetails)}`);
    }
    return response.result?.result?.value as T;
  }

  /**
   * Evaluates `expression` until it is truthy (every 100 ms, up to `timeoutMs`); while the page
   * is still loading it may throw.
   */
  async waitFor<T>(expression: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown = null;
    for (;;) {
      try {
        const value = await this.evaluate<T>(expression);
        if (value) return value;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${expression}${last ? ` (last: ${last})` : ""}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** A PNG of the page as it is now. */
  async screenshot(): Promise<Uint8Array> {
    const response = await this.#call("Page.captureScreenshot", { format: "png" });
    const data = (response.result as unknown as { data: string }).data;
    return Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  }

  async close(): Promise<void> {
    this.#socket.close();
    try {
      this.#process.kill("SIGKILL");
    } catch { /* ended */ }
    await this.#process.status;
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}
