"""The `student` fixture of the grading tests (edu_gen.grading.plugin).

Under `edu-gen grade` it is the submission being graded. Run directly (`pytest grading/tests`),
it runs the solution notebook, or the notebooks in the folder named by EDU_GEN_SUBMISSION.
"""

from edu_gen.grading.plugin import student  # noqa: F401  (pytest finds fixtures by name)
