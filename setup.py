"""The compiled part of the build (Gopher's n-gram counts); everything else is in pyproject.toml.

setuptools runs Cython on the .pyx (pyproject's build requirements); `make install` builds it in
place. Optional: on a machine without a C compiler the install goes on without it, and
curate/filters/text.py falls back to numpy: identical answers, Gopher repetition 1.9x slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("curate.filters._ngrams", ["curate/filters/_ngrams.pyx"], optional=True)])
