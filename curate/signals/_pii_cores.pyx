# cython: language_level=3, boundscheck=False, wraparound=False
"""Where card, IBAN and NANP phone candidates can be, in one pass over the text in C.

Each function gives the (start, end) spans that `finditer` of its regex in `pii._REGEX_CORES` gives
(the reference, and the fallback where this module was not built): `re` cannot skip ahead to these
patterns' first characters quickly and tries each at every digit or capital letter, which was three
quarters of `find_pii`'s time on the benchmark pages. `\\d` is `re`'s: a Unicode decimal digit.
Built by `make install`.
"""

from cpython.unicode cimport Py_UNICODE_ISDECIMAL, PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ


cdef inline bint _digit(int kind, void* data, Py_ssize_t i) noexcept:
    cdef Py_UCS4 c = PyUnicode_READ(kind, data, i)
    if c < 0x80:  # the common case, without the Unicode database's lookup
        return 0x30 <= c <= 0x39
    return Py_UNICODE_ISDECIMAL(c)


cdef inline bint _capital(int kind, void* data, Py_ssize_t i) noexcept:
    cdef Py_UCS4 c = PyUnicode_READ(kind, data, i)
    return 0x41 <= c <= 0x5A  # A-Z


def digit_chains(str text not None) -> list:
    r"""`\d(?:[ -]?\d){12,}`: the maximal runs of digits joined by at most one space or dash, of 13
    digits or more (every card candidate lies inside one)."""
    cdef Py_ssize_t n = len(text), i = 0, j, end, digits
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    out = []
    while i < n:
        if not _digit(kind, data, i):
            i += 1
            continue
        digits, end, j = 1, i + 1, i + 1
        while True:  # the greedy `[ -]?` takes a separator only when a digit follows it
            if j < n and _digit(kind, data, j):
                j += 1
            elif j + 1 < n and _digit(kind, data, j + 1) and (
                    PyUnicode_READ(kind, data, j) == 0x20 or PyUnicode_READ(kind, data, j) == 0x2D):
                j += 2
            else:
                break
            digits += 1
            end = j
        if digits >= 13:
            out.append((i, end))
        i = end  # a later start inside the chain has fewer digits
    return out


def iban_starts(str text not None) -> list:
    r"""`[A-Z](?=[A-Z]\d\d)`: where two capitals and two digits begin (every IBAN candidate begins so)."""
    cdef Py_ssize_t n = len(text), i
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    out = []
    for i in range(n - 3):
        if (_capital(kind, data, i) and _capital(kind, data, i + 1) and _digit(kind, data, i + 2)
                and _digit(kind, data, i + 3)):
            out.append((i, i + 1))
    return out


def nanp_cores(str text not None) -> list:
    r"""`\d(?=\d\d[ .-]\d{4})`: the first digit of "NXX-XXXX" (every NANP candidate ends so)."""
    cdef Py_ssize_t n = len(text), i, k
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_UCS4 sep
    out = []
    for i in range(n - 7):
        sep = PyUnicode_READ(kind, data, i + 3)  # the rarest of the eight: looked at first
        if sep != 0x20 and sep != 0x2E and sep != 0x2D:
            continue
        if not (_digit(kind, data, i) and _digit(kind, data, i + 1) and _digit(kind, data, i + 2)):
            continue
        for k in range(i + 4, i + 8):
            if not _digit(kind, data, k):
                break
        else:
            out.append((i, i + 1))
    return out
