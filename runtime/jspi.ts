/**
 * JS Promise Integration, which Deno's V8 enables by default but TypeScript's lib does not
 * declare yet. A `Suspending` import may return a Promise, suspending the wasm stack until it
 * settles; a `promising` export returns a Promise for the wasm call.
 */
interface JspiApi {
  Suspending: new (fn: (...args: never[]) => unknown) => object;
  promising<A extends unknown[]>(fn: (...args: A) => unknown): (...args: A) => Promise<unknown>;
}

const jspi = WebAssembly as unknown as Partial<JspiApi>;

if (typeof jspi.Suspending !== "function" || typeof jspi.promising !== "function") {
  throw new Error(
    "this Deno has no WebAssembly JS Promise Integration (JSPI); use Deno 2.9 or newer",
  );
}

/** Wraps a host function so that returning a Promise suspends the calling wasm stack. */
export const Suspending = jspi.Suspending;

/** Wraps a wasm export so that calling it runs on its own stack and returns a Promise. */
export const promising = jspi.promising.bind(WebAssembly);
