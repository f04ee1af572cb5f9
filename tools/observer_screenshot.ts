/**
 * Makes docs/observer.png, the README's picture of the observer: examples/ring.wasm with 1,000
 * processes under `--observe`, the page in headless Chromium (Debian's `chromium`), process 7
 * selected.
 *
 *   deno run --allow-all tools/observer_screenshot.ts
 */
import { Browser } from "../tests/helpers/chromium.ts";
import { CliProcess } from "../tests/helpers/cli_process.ts";

const run = new CliProcess([
  "run",
  "--observe",
  "127.0.0.1:0",
  "examples/ring.wasm",
  "1000",
  "1000000",
]);
const [, url] = await run.waitFor(/observer on (\S+)/, "stderr");
const browser = await Browser.launch(1280, 1000);
try {
  await browser.goto(url);
  await browser.waitFor("document.getElementById('count').textContent === '1,001 processes'");
  // A few samples for the charts.
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  await browser.evaluate("document.querySelector('#processes tr[data-key=\"1/7\"]').click()");
  await browser.waitFor(
    "document.getElementById('details-body').textContent.includes('\"id\": 7')",
  );
  await Deno.mkdir("docs", { recursive: true });
  await Deno.writeFile("docs/observer.png", await browser.screenshot());
  console.log("wrote docs/observer.png");
} finally {
  await browser.close();
  await run.stop();
}
