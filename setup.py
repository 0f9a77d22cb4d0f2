"""The compiled part of the build (Gopher's n-gram counts); everything else is in pyproject.toml.

setuptools runs Cython on the .pyx (pyproject's build requirements); `make install` builds it in
place. Without it, curate/filters/text.py falls back to numpy with identical answers.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("curate.filters._ngrams", ["curate/filters/_ngrams.pyx"])])
