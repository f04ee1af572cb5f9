;; testmode_exports.wat: discovery counts only function exports (tests/test_mode.test.ts).
;; A global named like a test is not one; a test function that takes a parameter is found but
;; cannot be called without arguments, so its process fails.
(module
  (memory (export "memory") 1)
  (func (export "#lunatic_test_wat::returns"))
  (global (export "#lunatic_test_wat::a_global") i32 (i32.const 0))
  (func (export "#lunatic_test_wat::takes_a_parameter") (param i32))
)
