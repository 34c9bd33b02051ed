//! Tool output captured verbatim from ruff 0.17, pytest 9 and Python 3.11's unittest, and the
//! failures each reader must find in it: the fixtures of every reader's tests.

use super::Failure;

pub(super) fn f(file: &str, line: u32, code: &str, message: &str) -> Failure {
    Failure {
        file: Some(file.into()),
        line: Some(line),
        code: (!code.is_empty()).then(|| code.to_string()),
        message: message.into(),
    }
}

pub(super) fn ruff_expected() -> Vec<Failure> {
    vec![
        f(
            "src/app.py",
            1,
            "I001",
            "Import block is un-sorted or un-formatted",
        ),
        f("src/app.py", 1, "F401", "`sys` imported but unused"),
        f("src/app.py", 2, "F401", "`os` imported but unused"),
        f(
            "src/app.py",
            6,
            "F841",
            "Local variable `l` is assigned to but never used",
        ),
        f(
            "src/bad.py",
            1,
            "invalid-syntax",
            "Expected a parameter or the end of the parameter list",
        ),
        f(
            "src/bad.py",
            1,
            "invalid-syntax",
            "Expected `)`, found newline",
        ),
    ]
}

pub(super) fn pytest_expected() -> Vec<Failure> {
    let t = "tests/test_ops.py";
    vec![
        f(t, 7, "test_add", "assert -2 == 4"),
        f(t, 16, "TestOps::test_add", "AssertionError: -1 != 5"),
        f(
            t,
            19,
            "TestOps::test_list",
            "AssertionError: Lists differ: [1, 2, 3] != [1, 2, 4]",
        ),
        f(t, 24, "test_param[1-1-2]", "assert 0 == 2"),
        f(t, 24, "test_param[2-2-4]", "assert 0 == 4"),
        f(t, 28, "test_raises", "RuntimeError: boom at 0x7f3a2b1c"),
    ]
}

pub(super) fn unittest_expected() -> Vec<Failure> {
    let t = "tests/test_ops.py";
    let c = "tests.test_ops.TestOps.";
    vec![
        f(
            "tests/test_broken.py",
            1,
            "tests.test_broken",
            "ImportError: cannot import name 'mul' from 'calc.ops' (/tmp/cap/calc/ops.py)",
        ),
        f(t, 28, &format!("{c}test_err"), "KeyError: 'missing'"),
        f(t, 16, &format!("{c}test_add"), "AssertionError: -1 != 5"),
        f(
            t,
            19,
            &format!("{c}test_list"),
            "AssertionError: Lists differ: [1, 2, 3] != [1, 2, 4]",
        ),
        f(
            t,
            25,
            &format!("{c}test_sub (i=0)"),
            "AssertionError: -1 != 1",
        ),
        f(
            t,
            25,
            &format!("{c}test_sub (i=1)"),
            "AssertionError: 0 != 2",
        ),
    ]
}

/// Captured verbatim (ruff_concise).
pub(super) const RUFF_CONCISE: &str = r###"src/app.py:1:1: I001 [*] Import block is un-sorted or un-formatted
src/app.py:1:8: F401 [*] `sys` imported but unused
src/app.py:2:8: F401 [*] `os` imported but unused
src/app.py:6:5: F841 Local variable `l` is assigned to but never used
src/bad.py:1:7: invalid-syntax: Expected a parameter or the end of the parameter list
src/bad.py:1:8: invalid-syntax: Expected `)`, found newline
Found 6 errors.
[*] 3 fixable with `--fix` (1 unsafe fix available with `--fix --unsafe-fixes`).
"###;

/// Captured verbatim (ruff_full).
pub(super) const RUFF_FULL: &str = r###"I001 [*] Import block is un-sorted or un-formatted
 --> src/app.py:1:1
  |
1 | / import sys
2 | | import os
  | |_________^
help: Organize imports
  |
1 + import os
2 | import sys
  - import os
3 |
  |

F401 [*] `sys` imported but unused
 --> src/app.py:1:8
  |
1 | import sys
  |        ^^^
2 | import os
  |
help: Remove unused import: `sys`
  |
  - import sys
1 | import os
  |

F401 [*] `os` imported but unused
 --> src/app.py:2:8
  |
1 | import sys
2 | import os
  |        ^^
help: Remove unused import: `os`
  |
1 | import sys
  - import os
2 |
  |

F841 Local variable `l` is assigned to but never used
 --> src/app.py:6:5
  |
5 | def f(x):
6 |     l = 1
  |     ^
7 |     return x == None
  |
help: Remove assignment to unused variable `l`
  |
5 | def f(x):
  -     l = 1
6 |     return x == None
  |
note: This is an unsafe fix and may change runtime behavior

invalid-syntax: Expected a parameter or the end of the parameter list
 --> src/bad.py:1:7
  |
1 | def g(:
  |       ^
2 |     pass
  |

invalid-syntax: Expected `)`, found newline
 --> src/bad.py:1:8
  |
1 | def g(:
  |        ^
2 |     pass
  |

Found 6 errors.
[*] 3 fixable with `--fix` (1 unsafe fix available with `--fix --unsafe-fixes`).
"###;

/// Captured verbatim (ruff_format).
pub(super) const RUFF_FORMAT: &str = r###"unformatted: File would be reformatted
 --> src/fmt.py:1:6
  |
  - x = {  "a":1}
1 + x = {"a": 1}
  |

1 file would be reformatted, 1 file already formatted
"###;

/// Captured verbatim (pytest_default).
pub(super) const PYTEST_LONG: &str = r###"============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.2.0, pluggy-1.7.0
rootdir: /tmp/cap
collected 7 items

tests/test_ops.py F.FFFFF                                                [100%]

=================================== FAILURES ===================================
___________________________________ test_add ___________________________________

    def test_add():
>       assert add(1, 3) == 4
E       assert -2 == 4
E        +  where -2 = add(1, 3)

tests/test_ops.py:7: AssertionError
_______________________________ TestOps.test_add _______________________________

self = <tests.test_ops.TestOps testMethod=test_add>

    def test_add(self):
>       self.assertEqual(add(2, 3), 5)
E       AssertionError: -1 != 5

tests/test_ops.py:16: AssertionError
______________________________ TestOps.test_list _______________________________

self = <tests.test_ops.TestOps testMethod=test_list>

    def test_list(self):
>       self.assertEqual([1, 2, 3], [1, 2, 4])
E       AssertionError: Lists differ: [1, 2, 3] != [1, 2, 4]
E       
E       First differing element 2:
E       3
E       4
E       
E       - [1, 2, 3]
E       ?        ^
E       
E       + [1, 2, 4]
E       ?        ^

tests/test_ops.py:19: AssertionError
______________________________ test_param[1-1-2] _______________________________

a = 1, b = 1, c = 2

    @pytest.mark.parametrize("a,b,c", [(1, 1, 2), (2, 2, 4)])
    def test_param(a, b, c):
>       assert add(a, b) == c
E       assert 0 == 2
E        +  where 0 = add(1, 1)

tests/test_ops.py:24: AssertionError
______________________________ test_param[2-2-4] _______________________________

a = 2, b = 2, c = 4

    @pytest.mark.parametrize("a,b,c", [(1, 1, 2), (2, 2, 4)])
    def test_param(a, b, c):
>       assert add(a, b) == c
E       assert 0 == 4
E        +  where 0 = add(2, 2)

tests/test_ops.py:24: AssertionError
_________________________________ test_raises __________________________________

    def test_raises():
>       raise RuntimeError("boom at 0x7f3a2b1c")
E       RuntimeError: boom at 0x7f3a2b1c

tests/test_ops.py:28: RuntimeError
=========================== short test summary info ============================
FAILED tests/test_ops.py::test_add - assert -2 == 4
FAILED tests/test_ops.py::TestOps::test_add - AssertionError: -1 != 5
FAILED tests/test_ops.py::TestOps::test_list - AssertionError: Lists differ: ...
FAILED tests/test_ops.py::test_param[1-1-2] - assert 0 == 2
FAILED tests/test_ops.py::test_param[2-2-4] - assert 0 == 4
FAILED tests/test_ops.py::test_raises - RuntimeError: boom at 0x7f3a2b1c
========================= 6 failed, 1 passed in 0.08s ==========================
"###;

/// Captured verbatim (pytest_short).
pub(super) const PYTEST_SHORT: &str = r###"F.FFFFF                                                                  [100%]
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________
tests/test_ops.py:7: in test_add
    assert add(1, 3) == 4
E   assert -2 == 4
E    +  where -2 = add(1, 3)
_______________________________ TestOps.test_add _______________________________
tests/test_ops.py:16: in test_add
    self.assertEqual(add(2, 3), 5)
E   AssertionError: -1 != 5
______________________________ TestOps.test_list _______________________________
tests/test_ops.py:19: in test_list
    self.assertEqual([1, 2, 3], [1, 2, 4])
E   AssertionError: Lists differ: [1, 2, 3] != [1, 2, 4]
E   
E   First differing element 2:
E   3
E   4
E   
E   - [1, 2, 3]
E   ?        ^
E   
E   + [1, 2, 4]
E   ?        ^
______________________________ test_param[1-1-2] _______________________________
tests/test_ops.py:24: in test_param
    assert add(a, b) == c
E   assert 0 == 2
E    +  where 0 = add(1, 1)
______________________________ test_param[2-2-4] _______________________________
tests/test_ops.py:24: in test_param
    assert add(a, b) == c
E   assert 0 == 4
E    +  where 0 = add(2, 2)
_________________________________ test_raises __________________________________
tests/test_ops.py:28: in test_raises
    raise RuntimeError("boom at 0x7f3a2b1c")
E   RuntimeError: boom at 0x7f3a2b1c
=========================== short test summary info ============================
FAILED tests/test_ops.py::test_add - assert -2 == 4
FAILED tests/test_ops.py::TestOps::test_add - AssertionError: -1 != 5
FAILED tests/test_ops.py::TestOps::test_list - AssertionError: Lists differ: ...
FAILED tests/test_ops.py::test_param[1-1-2] - assert 0 == 2
FAILED tests/test_ops.py::test_param[2-2-4] - assert 0 == 4
FAILED tests/test_ops.py::test_raises - RuntimeError: boom at 0x7f3a2b1c
6 failed, 1 passed in 0.07s
"###;

/// Captured verbatim (pytest_line).
pub(super) const PYTEST_LINE: &str = r###"F.FFFFF                                                                  [100%]
=================================== FAILURES ===================================
E   assert -2 == 4
     +  where -2 = add(1, 3)
/tmp/cap/tests/test_ops.py:7: assert -2 == 4
E   AssertionError: -1 != 5
/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/case.py:866: AssertionError: -1 != 5
E   AssertionError: Lists differ: [1, 2, 3] != [1, 2, 4]
    
    First differing element 2:
    3
    4
    
    - [1, 2, 3]
    ?        ^
    
    + [1, 2, 4]
    ?        ^
/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/case.py:703: AssertionError: Lists differ: [1, 2, 3] != [1, 2, 4]
E   assert 0 == 2
     +  where 0 = add(1, 1)
/tmp/cap/tests/test_ops.py:24: assert 0 == 2
E   assert 0 == 4
     +  where 0 = add(2, 2)
/tmp/cap/tests/test_ops.py:24: assert 0 == 4
E   RuntimeError: boom at 0x7f3a2b1c
/tmp/cap/tests/test_ops.py:28: RuntimeError: boom at 0x7f3a2b1c
6 failed, 1 passed in 0.03s
"###;

/// Captured verbatim (pytest_collect).
pub(super) const PYTEST_COLLECT: &str = r###"============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.2.0, pluggy-1.7.0
rootdir: /tmp/cap
collected 0 items / 1 error

==================================== ERRORS ====================================
____________________ ERROR collecting tests/test_broken.py _____________________
ImportError while importing test module '/tmp/cap/tests/test_broken.py'.
Hint: make sure your test modules/packages have valid Python names.
Traceback:
/root/.pyenv/versions/3.11.7/lib/python3.11/importlib/__init__.py:126: in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
tests/test_broken.py:1: in <module>
    from calc.ops import mul
E   ImportError: cannot import name 'mul' from 'calc.ops' (/tmp/cap/calc/ops.py)
=========================== short test summary info ============================
ERROR tests/test_broken.py
!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
=============================== 1 error in 0.13s ===============================
"###;

/// Captured verbatim (pytest_usage).
pub(super) const PYTEST_USAGE: &str = r###"============================= test session starts ==============================
platform linux -- Python 3.11.7, pytest-9.2.0, pluggy-1.7.0
rootdir: /tmp/cap
collected 0 items

============================ no tests ran in 0.00s =============================
ERROR: file or directory not found: nosuchdir

"###;

/// Captured verbatim (ut).
pub(super) const UNITTEST: &str = r###"EFEFFF
======================================================================
ERROR: tests.test_broken (unittest.loader._FailedTest.tests.test_broken)
----------------------------------------------------------------------
ImportError: Failed to import test module: tests.test_broken
Traceback (most recent call last):
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 419, in _find_test_path
    module = self._get_module_from_name(name)
             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/unittest/loader.py", line 362, in _get_module_from_name
    __import__(name)
  File "/tmp/cap/tests/test_broken.py", line 1, in <module>
    from calc.ops import mul
ImportError: cannot import name 'mul' from 'calc.ops' (/tmp/cap/calc/ops.py)


======================================================================
ERROR: test_err (tests.test_ops.TestOps.test_err)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/cap/tests/test_ops.py", line 28, in test_err
    raise KeyError("missing")
KeyError: 'missing'

======================================================================
FAIL: test_add (tests.test_ops.TestOps.test_add)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/cap/tests/test_ops.py", line 16, in test_add
    self.assertEqual(add(2, 3), 5)
AssertionError: -1 != 5

======================================================================
FAIL: test_list (tests.test_ops.TestOps.test_list)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/cap/tests/test_ops.py", line 19, in test_list
    self.assertEqual([1, 2, 3], [1, 2, 4])
AssertionError: Lists differ: [1, 2, 3] != [1, 2, 4]

First differing element 2:
3
4

- [1, 2, 3]
?        ^

+ [1, 2, 4]
?        ^


======================================================================
FAIL: test_sub (tests.test_ops.TestOps.test_sub) (i=0)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/cap/tests/test_ops.py", line 25, in test_sub
    self.assertEqual(add(i, 1), i + 1)
AssertionError: -1 != 1

======================================================================
FAIL: test_sub (tests.test_ops.TestOps.test_sub) (i=1)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "/tmp/cap/tests/test_ops.py", line 25, in test_sub
    self.assertEqual(add(i, 1), i + 1)
AssertionError: 0 != 2

----------------------------------------------------------------------
Ran 5 tests in 0.002s

FAILED (failures=4, errors=2)
"###;
