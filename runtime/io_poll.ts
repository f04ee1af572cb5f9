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
const ONE = new Uint8Array(1);

export class IoPoll {
  #out: Deno.TcpConn | null = null;
  #in: Deno.TcpConn | null = null;
  #connecting: Promise<Deno.TcpConn | null> | null = null;
  #waiting: (() => void)[] = [];
  readonly #landed = new Uint8Array(64);

  /** Calls `then` once the event loop has polled the OS for I/O (or after a timer turn). */
  poll(then: () => void): void {
    this.#waiting.push(then);
    if (this.#waiting.length > 1) return; // a byte is on its way
    // While a byte is on its way it must keep the event loop alive: the processes waiting
    // for this turn may be all there is to run.
    this.#in?.ref();
    if (this.#out !== null) {
      this.#send(this.#out);
      return;
    }
    this.#connecting ??= this.#connect();
    this.#connecting.then((out) => {
      if (out !== null) this.#send(out);
      else setTimeout(() => this.#wake(), 0); // no loopback: a timer turn does it too
    });
  }

  #send(out: Deno.TcpConn): void {
    out.write(ONE).catch(() => this.#lost(out));
  }

  #wake(): void {
    this.#in?.unref();
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const then of waiting) then();
  }

  /** Waits for bytes on the inbound side, forever: each arrival is a poll's turn. */
  #listen(inbound: Deno.TcpConn): void {
    inbound.read(this.#landed).then((count) => {
      if (count === null) return this.#lost(inbound);
      this.#wake();
      this.#listen(inbound);
    }, () => this.#lost(inbound));
  }

  /**
   * The loopback connection broke (nothing here closes it, but the OS may): the polls waiting
   * get a timer turn, and the next poll connects afresh.
   */
  #lost(conn: Deno.TcpConn): void {
    if (conn !== this.#in && conn !== this.#out) return; // an earlier connection's news
    for (const side of [this.#in, this.#out]) closeQuietly(side);
    this.#in = this.#out = null;
    this.#connecting = null;
    if (this.#waiting.length > 0) setTimeout(() => this.#wake(), 0);
  }

  /** A connection to itself on 127.0.0.1, or null if there is none to be had. */
  async #connect(): Promise<Deno.TcpConn | null> {
    let listener: Deno.TcpListener | null = null;
    let out: Deno.TcpConn | null = null;
    let inbound: Deno.TcpConn | null = null;
    try {
      listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      // The kernel completes the connection into the backlog: connecting first means a
      // refused connect fails here instead of leaving the accept waiting forever.
      out = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
      inbound = await listener.accept();
      out.setNoDelay(true);
    } catch {
      for (const side of [out, inbound]) closeQuietly(side);
      return null;
    } finally {
      listener?.close();
    }
    this.#in = inbound;
    this.#listen(inbound);
    if (this.#waiting.length === 0) inbound.unref();
    this.#out = out;
    return out;
  }
}

function closeQuietly(conn: Deno.TcpConn | null): void {
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
}
