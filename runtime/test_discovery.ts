/**
 * Test discovery for test mode (spec §7.3): the `#[lunatic::test]` macro of lunatic-rs exports
 * every test as a function named
 *
 *     #lunatic_test_ [#ignore_] [#panic_<expected, '#' escaped as '\#'>#] <crate::module::fn>
 *
 * and the runner finds them among the module's exports, then filters them.
 */
import type { ExportInfo } from "./wasm/module_info.ts";

const TEST_PREFIX = "#lunatic_test_";
const IGNORE_MARKER = "#ignore_";
const PANIC_MARKER = "#panic_";

/** One test function found in a module. */
export interface TestFunction {
  /** The export the test process runs. */
  readonly exportName: string;
  /** `crate::module::fn`, as reports and filters see it. */
  readonly name: string;
  /** Marked `#[ignore]`. */
  readonly ignored: boolean;
  /**
   * For a `#[should_panic]` test, the text the panic message must contain (empty: any panic
   * will do); null for an ordinary test.
   */
  readonly expectedPanic: string | null;
}

/** Parses a test export name; null when `exportName` is not one. */
export function parseTestExport(exportName: string): TestFunction | null {
  if (!exportName.startsWith(TEST_PREFIX)) return null;
  let rest = exportName.slice(TEST_PREFIX.length);
  const ignored = rest.startsWith(IGNORE_MARKER);
  if (ignored) rest = rest.slice(IGNORE_MARKER.length);
  let expectedPanic: string | null = null;
  if (rest.startsWith(PANIC_MARKER)) {
    rest = rest.slice(PANIC_MARKER.length);
    const end = unescapedHash(rest);
    // lunatic-rs always writes the closing '#'; without one the whole rest is the text.
    const escaped = end === -1 ? rest : rest.slice(0, end);
    expectedPanic = escaped.replaceAll("\\#", "#");
    rest = end === -1 ? "" : rest.slice(end + 1);
  }
  return { exportName, name: rest, ignored, expectedPanic };
}

/** Index of the first '#' not preceded by a backslash, or -1. */
function unescapedHash(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "#" && (i === 0 || text[i - 1] !== "\\")) return i;
  }
  return -1;
}

/** Every test function among `exports`, in export order (only function exports count). */
export function discoverTests(exports: readonly ExportInfo[]): TestFunction[] {
  const tests: TestFunction[] = [];
  for (const entry of exports) {
    if (entry.kind !== "func") continue;
    const test = parseTestExport(entry.name);
    if (test !== null) tests.push(test);
  }
  return tests;
}

/** Which tests to run (libtest's filter, `--exact`, `--ignored`, `--include-ignored`). */
export interface TestSelection {
  /** Run only tests whose name contains this (or equals it with `exact`); absent: all. */
  filter?: string;
  exact?: boolean;
  /** `--ignored`: run only the ignored tests; the others count as filtered out. */
  onlyIgnored?: boolean;
  /** `--include-ignored`: run ignored tests as well. */
  includeIgnored?: boolean;
}

/** The tests that passed the filters. */
export interface SelectedTests {
  /** In export order; `ignored` is now whether the run skips the test. */
  tests: TestFunction[];
  /** How many tests the filters removed ("N filtered out"). */
  filteredOut: number;
}

/** Applies the filters in lunatic's order: `--ignored` first, then the name filter. */
export function selectTests(
  tests: readonly TestFunction[],
  selection: TestSelection,
): SelectedTests {
  const selected: TestFunction[] = [];
  for (const test of tests) {
    if (selection.onlyIgnored && !test.ignored) continue;
    if (!matchesFilter(test.name, selection)) continue;
    const runIt = selection.onlyIgnored || selection.includeIgnored;
    selected.push(runIt && test.ignored ? { ...test, ignored: false } : test);
  }
  return { tests: selected, filteredOut: tests.length - selected.length };
}

function matchesFilter(name: string, { filter, exact }: TestSelection): boolean {
  if (filter === undefined) return true;
  return exact ? name === filter : name.includes(filter);
}
