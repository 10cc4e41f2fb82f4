"""Exercises and their autograder (DESIGN.md section 7).

An exercise is written once, in ``solutions/NN_name.ipynb``; ``edu-gen assign`` turns it into the
student notebook ``exercises/NN_name.ipynb``, and ``edu-gen grade`` grades a folder of submissions.

The design rule that makes the grades trustworthy: **code in a submission never takes part in a
comparison.** Each notebook runs in its own kernel and process (optionally in a bubblewrap
sandbox, see `sandbox`); the grading tests run in the grader's process and call the student's
functions through the kernel client, receiving plain JSON (`wire`); expected values are computed
and compared in the grader (`checks`), so they never enter the student's kernel.

| module       | holds                                                                       |
|--------------|-----------------------------------------------------------------------------|
| `assign`     | solution notebook -> exercise notebook; the staleness check                 |
| `wire`       | how values cross the kernel boundary (JSON, tensors as nested lists + dtype) |
| `checks`     | what grading tests assert with, and the kinds of problem a student is told  |
| `sandbox`    | a bubblewrap sandbox per kernel (namespaces, tmpfs quota, seccomp), limits, probe |
| `processes`  | finding and killing what a kernel left behind                                |
| `kernel`     | one kernel process: start, run code with a deadline, stop                   |
| `submission` | one notebook run in a kernel: the `student` handle the tests call           |
| `plugin`     | the pytest side: the ``points`` marker, the ``student`` fixture, results    |
| `grade`      | the batch: every student and exercise, then grades.csv and feedback         |
| `stopping`   | the grader stopped by a signal: the normal end's cleanup, then what was graded |

Submodules are imported on demand; none is imported here.
"""
