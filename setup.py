"""The compiled part of the build (Gopher's n-gram counts, the word splitter, C4's sentence count,
where PII candidates can be); the rest is in pyproject.toml.

setuptools runs Cython on the .pyx (pyproject's build requirements); `make install` builds it in
place. Optional: on a machine without a C compiler the install goes on without them, and
the modules that import them (curate/filters/text.py, c4.py, curate/signals/pii.py) fall back to
numpy and `re`: identical answers, slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("curate.filters._ngrams", ["curate/filters/_ngrams.pyx"], optional=True),
    Extension("curate.filters._words", ["curate/filters/_words.pyx"], optional=True),
    Extension("curate.filters._sentences", ["curate/filters/_sentences.pyx"], optional=True),
    Extension("curate.filters._fasttext", ["curate/filters/_fasttext.pyx"], optional=True),
    Extension("curate.signals._pii_cores", ["curate/signals/_pii_cores.pyx"], optional=True),
])
