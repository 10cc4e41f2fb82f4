"""Fail CI when the pytest run was hollow: no tests, failures, or notebooks that nbval did not run."""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

report = Path(sys.argv[1])
if not report.is_file():
    sys.exit(f"CI guard: no JUnit report at {report}; pytest did not run")
cases = list(ET.parse(report).getroot().iter("testcase"))
failed = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
skipped = [c for c in cases if c.find("skipped") is not None]
passed = len(cases) - len(failed) - len(skipped)
# nbval names a notebook's cells with the class name "book.01_losses_as_likelihood.ipynb"
notebooks = sorted(str(p) for folder in ("book", "solutions") for p in Path(folder).glob("*.ipynb"))
ran = {c.get("classname") for c in cases if c.find("skipped") is None}
not_run = [nb for nb in notebooks if nb.replace("/", ".") not in ran]
print(f"CI guard: {len(cases)} tests, {passed} passed, {len(failed)} failed, {len(skipped)} skipped; "
      f"{len(notebooks) - len(not_run)} of {len(notebooks)} notebooks run")
for case in skipped:
    print(f"  skipped: {case.get('classname')}::{case.get('name')}: {case.find('skipped').get('message', '')}")
problems = []
if passed == 0:
    problems.append("no test passed")
if failed:
    problems.append(f"{len(failed)} failed")
if not_run:
    problems.append(f"notebooks not run by nbval: {not_run}")
if problems:
    sys.exit("CI guard: " + "; ".join(problems))
