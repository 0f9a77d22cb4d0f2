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

from cpython.unicode cimport (
    Py_UNICODE_ISLINEBREAK,
    Py_UNICODE_ISSPACE,
    PyUnicode_DATA,
    PyUnicode_KIND,
    PyUnicode_READ,
)


cdef inline bint _in(const unsigned char* bits, Py_UCS4 ch) noexcept nogil:
    cdef unsigned int c = <unsigned int>ch
    return (bits[c >> 3] >> (c & 7)) & 1


cdef Py_ssize_t _count(int kind, void* data, Py_ssize_t i, Py_ssize_t n, const unsigned char* terminals,
                       const unsigned char* closers) noexcept:
    """The sentences of the characters i..n of a str buffer."""
    cdef Py_ssize_t j, count = 0
    cdef bint filled = False  # the current piece holds a non-whitespace character
    cdef Py_UCS4 c
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


cdef _check_bitmaps(bytes terminal_bits, bytes closer_bits):
    if len(terminal_bits) < 0x110000 // 8 or len(closer_bits) < 0x110000 // 8:
        raise ValueError("a bitmap covers all 0x110000 code points")


def count_sentences(str line not None, bytes terminal_bits not None, bytes closer_bits not None) -> int:
    """The non-blank pieces of `line` cut at sentence ends. The bitmaps cover all code points (bit c of
    byte c >> 3): of terminal punctuation and of the closing quotes/brackets."""
    _check_bitmaps(terminal_bits, closer_bits)
    return _count(PyUnicode_KIND(line), PyUnicode_DATA(line), 0, len(line), terminal_bits, closer_bits)


def clean_lines(str text not None, list kept not None, Py_ssize_t min_words, Py_ssize_t max_length,
                str plain_without not None, bytes terminal_bits not None, bytes closer_bits not None,
                line_rules not None) -> tuple:
    """C4's line loop over `text.splitlines()`, each line stripped: a plain line (holding none of
    the characters of `plain_without`, and at most `max_length` characters when that is >= 0) is
    dropped when it has fewer than `min_words` words (`str.split`'s, when min_words > 0), else
    appended to `kept` and its sentences counted, here; any other line goes to
    `line_rules(line)`, which applies every rule and returns its sentences (it kept the line), -2
    (it dropped it) or -1 (the page is rejected: the loop stops). Returns (lines, sentences of
    the plain lines, plain lines with too few words, stopped)."""
    _check_bitmaps(terminal_bits, closer_bits)
    cdef const unsigned char* terminals = terminal_bits
    cdef const unsigned char* closers = closer_bits
    cdef Py_ssize_t n = len(text), i = 0, start, end, a, b, k, words, lines = 0, sentences = 0, few = 0
    cdef Py_ssize_t got, j
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_UCS4 c
    cdef bint stopped = False, plain, space
    cdef Py_UCS4 specials[8]
    cdef Py_ssize_t n_specials = len(plain_without)
    if n_specials > 8:
        raise ValueError("at most 8 characters in plain_without")
    for k in range(n_specials):
        specials[k] = plain_without[k]
    while i < n:
        start = i  # one line: up to the next line break (\r\n is one), as str.splitlines
        while i < n and not Py_UNICODE_ISLINEBREAK(PyUnicode_READ(kind, data, i)):
            i += 1
        end = i
        if i < n:
            if PyUnicode_READ(kind, data, i) == 13 and i + 1 < n and PyUnicode_READ(kind, data, i + 1) == 10:
                i += 1
            i += 1
        lines += 1
        if stopped:
            continue
        a, b = start, end  # str.strip
        while a < b and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, a)):
            a += 1
        while b > a and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, b - 1)):
            b -= 1
        plain = max_length < 0 or b - a <= max_length
        k = a
        while plain and k < b:
            c = PyUnicode_READ(kind, data, k)
            for j in range(n_specials):
                if c == specials[j]:
                    plain = False
                    break
            k += 1
        if not plain:
            got = line_rules(text[a:b])
            if got == -1:
                stopped = True
            continue
        if min_words > 0:  # len(line.split(None, min_words)) < min_words
            words, space, k = 0, True, a
            while k < b and words < min_words:
                c = PyUnicode_READ(kind, data, k)
                if Py_UNICODE_ISSPACE(c):
                    space = True
                elif space:
                    words += 1
                    space = False
                k += 1
            if words < min_words:
                few += 1
                continue
        sentences += _count(kind, data, a, b, terminals, closers)
        kept.append(text[a:b])
    return lines, sentences, few, stopped
