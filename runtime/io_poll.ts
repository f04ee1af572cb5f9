/**
 * A turn of the event loop that lets it wait for I/O, at the cost of a loopback round trip.
 *
 * Deno's event loop asks the OS for I/O only when it has nothing else to run, or every 61
 * scheduler ticks (~122 of its turns) when it always has (tokio's `event_interval`). A busy
 * runtime always has, so its sockets were polled about every 250 ms (122 turns of a 2 ms
 * slice): a socket round trip beside two spinning processes took 245 ms, and a server under
 * load accepted new connections seconds late. A timer turn would let it wait, but Deno's
 * timers sleep at least ~1 ms. So the scheduler ends a slice by sending one byte to itself
 * through a loopback connection and resuming when it arrives: the event loop has nothing to
 * run until then, polls the OS, and handles every socket that is ready on the way (~20 µs).
 */
import net from "node:net";

const ONE = new Uint8Array(1);

export class IoPoll {
  #out: net.Socket | null = null;
  #in: net.Socket | null = null;
  #connecting: Promise<net.Socket | null> | null = null;
  #waiting: (() => void)[] = [];

  /** Calls `then` once the event loop has polled the OS for I/O (or after a timer turn). */
  poll(then: () => void): void {
    this.#waiting.push(then);
    if (this.#waiting.length > 1) return; // a byte is on its way
    // While a byte is on its way it must keep the event loop alive: the processes waiting
    // for this turn may be all there is to run.
    this.#in?.ref();
    if (this.#out !== null) {
      this.#out.write(ONE);
      return;
    }
    this.#connecting ??= this.#connect();
    this.#connecting.then((out) => {
      if (out !== null) out.write(ONE);
      else setTimeout(() => this.#wake(), 0); // no loopback: a timer turn does it too
    });
  }

  #wake(): void {
    this.#in?.unref();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const then of waiting) then();
  }

  /** A connection to itself on 127.0.0.1, or null if there is none to be had. */
  #connect(): Promise<net.Socket | null> {
    return new Promise((resolve) => {
      const server = net.createServer((inbound) => {
        inbound.setNoDelay(true);
        this.#in = inbound;
        if (this.#waiting.length === 0) inbound.unref();
        inbound.on("data", () => this.#wake());
        inbound.on("error", () => {});
        server.close();
      });
      // Both stay referenced until connected: the first poll may be all the loop has to do.
      server.on("error", () => resolve(null));
      server.listen(0, "127.0.0.1", () => {
        const out = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1", () => {
          this.#out = out;
          out.unref();
          server.unref();
          resolve(out);
        });
        out.setNoDelay(true);
        out.on("error", () => {
          out.destroy();
          server.close();
          resolve(null);
        });
      });
    });
  }
}
