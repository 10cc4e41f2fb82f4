"""edu_gen: the helper library of the edu-gen book on deep generative models.

One module per idea, each introduced by a chapter (see DESIGN.md section 3)::

    from edu_gen import runtime, data, likelihood, train, plot

Submodules are imported on demand, so ``import edu_gen`` stays cheap.
"""

__version__ = "0.1.0"
