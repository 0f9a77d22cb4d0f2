# cython: language_level=3, boundscheck=False, wraparound=False
"""C4's sentence count in C: what `c4.py_count_sentences` counts, one pass over the line without `re`.

A sentence ends at a run of terminal punctuation, then closing quotes or brackets, then whitespace or
the end of the line (`c4._SENTENCE_END`); the sentences are the non-blank pieces between the ends.
The three classes are disjoint, so `re`'s leftmost greedy match is decided by one run at a time: at
the start of a run of terminals the pattern matches exactly when the run, then the closers after it,
are followed by whitespace or the end; if not, no position inside the run matches either (from each,
the same closers and the same next character follow). Built by `make install`; `c4.count_sentences`
falls back to the regex where this module was not built.
"""

from cpython.unicode cimport Py_UNICODE_ISSPACE, PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ


cdef inline bint _in(const unsigned char* bits, Py_UCS4 ch) noexcept nogil:
    cdef unsigned int c = <unsigned int>ch
    return (bits[c >> 3] >> (c & 7)) & 1


def count_sentences(str line not None, bytes terminal_bits not None, bytes closer_bits not None) -> int:
    """The non-blank pieces of `line` cut at sentence ends. The bitmaps cover all code points (bit c of
    byte c >> 3): of terminal punctuation and of the closing quotes/brackets."""
    cdef Py_ssize_t n = len(line), i = 0, j
    cdef int kind = PyUnicode_KIND(line)
    cdef void* data = PyUnicode_DATA(line)
    cdef Py_ssize_t count = 0
    cdef bint filled = False  # the current piece holds a non-whitespace character
    cdef Py_UCS4 c
    if len(terminal_bits) < 0x110000 // 8 or len(closer_bits) < 0x110000 // 8:
        raise ValueError("a bitmap covers all 0x110000 code points")
    cdef const unsigned char* terminals = terminal_bits
    cdef const unsigned char* closers = closer_bits
    while i < n:
        c = PyUnicode_READ(kind, data, i)
        if not _in(terminals, c):
            filled = filled or not Py_UNICODE_ISSPACE(c)
            i += 1
            continue
        j = i + 1
        while j < n and _in(terminals, PyUnicode_READ(kind, data, j)):
            j += 1
        i = j  # past the run: whether or not it ends a sentence, scanning resumes here
        while j < n and _in(closers, PyUnicode_READ(kind, data, j)):
            j += 1
        if j < n and not Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j)):
            filled = True  # not a sentence end: the run is text of the piece
            continue
        count += filled  # a sentence end: the piece before it is done
        filled = False
        while j < n and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, j)):
            j += 1
        i = j
    return count + filled
