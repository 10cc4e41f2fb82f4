"""Fail CI when the pytest run was hollow: no tests, failures, or chapter notebooks not executed."""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

report = Path(sys.argv[1])
if not report.is_file():
    sys.exit(f"CI guard: no JUnit report at {report}; pytest did not run")
cases = list(ET.parse(report).getroot().iter("testcase"))
failed = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
passed = [c for c in cases if not failed.count(c) and c.find("skipped") is None]
notebooks = sorted(str(p) for p in Path("book").glob("*.ipynb"))
unexecuted = [nb for nb in notebooks if not any(nb.replace("/", ".").removesuffix(".ipynb") in (c.get("classname") or "") + (c.get("file") or "") or nb in (c.get("classname") or "") + (c.get("file") or "") for c in cases)]
print(f"CI guard: {len(cases)} test cases, {len(passed)} passed, {len(failed)} failed, {len(notebooks)} notebooks")
problems = []
if len(passed) == 0:
    problems.append("no test passed")
if failed:
    problems.append(f"{len(failed)} failed")
if unexecuted:
    problems.append(f"notebooks not run by nbval: {unexecuted}")
if problems:
    sys.exit("CI guard: " + "; ".join(problems))
