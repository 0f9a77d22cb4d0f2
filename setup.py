"""The compiled part of the build (Gopher's n-gram counts, the word splitter, C4's sentence count,
lid.176's predict, where PII candidates can be); the rest is in pyproject.toml.

setuptools runs Cython on the .pyx (pyproject's build requirements); `make install` builds it in
place. Optional: on a machine without a C compiler the install goes on without them, and the
modules that import them (curate/filters/text.py, c4.py, lid.py, curate/signals/pii.py) fall back
to numpy, `re` and fastText's own predict: identical answers, slower.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("curate.filters._ngrams", ["curate/filters/_ngrams.pyx"], optional=True),
    Extension("curate.filters._words", ["curate/filters/_words.pyx"], optional=True),
    Extension("curate.filters._sentences", ["curate/filters/_sentences.pyx"], optional=True),
    # fastText's floats exactly: no fused multiply-add where the target has one (-march=native)
    Extension("curate.filters._fasttext", ["curate/filters/_fasttext.pyx"], optional=True,
              extra_compile_args=["-ffp-contract=off"]),
    Extension("curate.signals._pii_cores", ["curate/signals/_pii_cores.pyx"], optional=True),
])
