;; A test module whose one test spins forever without calling the host, and one that passes.
(module
  (func (export "#lunatic_test_spinner::tests::spins_forever")
    (loop $forever (br $forever)))
  (func (export "#lunatic_test_spinner::tests::passes"))
  (memory (export "memory") 1))
