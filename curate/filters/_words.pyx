# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""`text.words` of mostly-ASCII text in C: the same tokens as `text.py_split_words`, without `re`.

The ASCII stretches are tokenized here, one pass over the str's PEP 393 buffer (the tokens of
`text._ASCII_TOKEN.findall`); only the whitespace-delimited pieces that hold a non-ASCII character
go to the `regex` findall the caller passes (TOKEN_RE). Built by `make install` (setuptools runs
Cython); `text.split_words` falls back to the Python version where this module was not built.
"""

from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.unicode cimport PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ


cdef inline bint _is_space(Py_UCS4 c) noexcept nogil:
    # [\t\n\v\f\r ]: `regex`'s \s on ASCII (\x1c-\x1f, spaces for str.split, are symbols there)
    return c == 32 or 9 <= c <= 13


cdef inline bint _is_word(Py_UCS4 c) noexcept nogil:
    # [A-Za-z0-9_]: `regex`'s \w on ASCII; nothing beyond ASCII (as _ASCII_TOKEN)
    return 97 <= c <= 122 or 65 <= c <= 90 or 48 <= c <= 57 or c == 95


cdef inline Py_ssize_t _token_end(int kind, void* data, Py_ssize_t i, Py_ssize_t end) noexcept:
    """Where the token that starts at i (an ASCII character, not whitespace) ends: _ASCII_TOKEN's
    alternatives, tried in its order (leftmost-first, so a word run takes its `'`/`.` joins before
    "..." is considered)."""
    cdef Py_UCS4 c = PyUnicode_READ(kind, data, i)
    i += 1
    if _is_word(c):
        # [A-Za-z0-9_]+(?:['.][A-Za-z0-9_]+)*: a joiner counts only if a word character follows
        while True:
            while i < end and _is_word(PyUnicode_READ(kind, data, i)):
                i += 1
            c = PyUnicode_READ(kind, data, i) if i + 1 < end else 0
            if (c == 39 or c == 46) and _is_word(PyUnicode_READ(kind, data, i + 1)):  # ' or .
                i += 2
            else:
                return i
    if (c == 46 and i + 1 < end and PyUnicode_READ(kind, data, i) == 46
            and PyUnicode_READ(kind, data, i + 1) == 46):  # "..."
        return i + 2
    return i  # any other character (punctuation, symbols, control characters) is a token alone


def ascii_tokens(str text not None, Py_ssize_t start=0, Py_ssize_t end=PY_SSIZE_T_MAX) -> list:
    """`text._ASCII_TOKEN.findall(text, start, end)`, on any str (a character past ASCII is a token
    alone there, as in the regex); start and end are clamped to the text as `re` does."""
    cdef list out = []
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i = max(start, 0), j
    end = min(max(end, 0), len(text))
    while i < end:
        if _is_space(PyUnicode_READ(kind, data, i)):
            i += 1
            continue
        j = _token_end(kind, data, i, end)
        out.append(text[i:j])
        i = j
    return out


def split_words(str text not None, findall) -> list:
    """The tokens of `text`, in one pass: ASCII tokens are made here until a character past ASCII
    turns up; then the tokens made since the last ASCII whitespace are taken back and the whole
    whitespace-delimited piece around it goes to `findall(text, left, right)` (TOKEN_RE's). No token
    holds whitespace, so those are exactly the piece's tokens."""
    cdef Py_ssize_t n = len(text), i = 0, j, left = 0, right, mark = 0
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef list out = []
    cdef Py_UCS4 c
    while i < n:
        c = PyUnicode_READ(kind, data, i)
        if _is_space(c):
            i += 1
            left, mark = i, len(out)  # a piece with a non-ASCII character would start here
        elif c < 128:
            j = _token_end(kind, data, i, n)
            out.append(text[i:j])
            i = j
        else:
            right = i + 1  # the piece ends at the next ASCII whitespace (not at \xa0, \u3000, ...)
            while right < n and not _is_space(PyUnicode_READ(kind, data, right)):
                right += 1
            del out[mark:]
            out.extend(findall(text, left, right))
            i = right
    return out


def word_tokens(tuple tokens not None, is_word) -> tuple:
    """The tokens that are words: all but "..." and the one-character tokens that are not a word
    (`is_word(t)`: WORD_RE.fullmatch, asked only of characters past ASCII, once each)."""
    cdef list out = []
    cdef dict verdicts = {}
    cdef Py_ssize_t n
    cdef Py_UCS4 c
    for t in tokens:
        n = len(<str>t)
        if n == 1:
            c = PyUnicode_READ(PyUnicode_KIND(t), PyUnicode_DATA(t), 0)
            if c < 128:
                if not _is_word(c):
                    continue
            else:
                verdict = verdicts.get(t)
                if verdict is None:
                    verdict = verdicts[t] = bool(is_word(t))
                if not verdict:
                    continue
        elif n == 3 and t == "...":
            continue
        out.append(t)
    return tuple(out)


def count_no_letter(tokens not None, count) -> int:
    """How many tokens have no letter, as `_NO_LETTER_TOKEN.findall(" ".join(tokens))` counts them: an
    ASCII token without whitespace is one such run when it holds no [A-Za-z]; any other token is
    counted by `count(token)` (the regex on it alone: the runs of the joined text are those of
    its tokens, which the joining spaces separate), asked once per distinct token."""
    cdef Py_ssize_t total = 0, i, n
    cdef int kind
    cdef void* data
    cdef Py_UCS4 c
    cdef bint letter, plain
    cdef dict counted = {}
    for t in tokens:
        kind, data, n = PyUnicode_KIND(t), PyUnicode_DATA(t), len(<str>t)
        letter, plain = False, kind == 1
        for i in range(n):
            c = PyUnicode_READ(kind, data, i)
            if c >= 128 or _is_space(c):
                plain = False
                break
            if 97 <= c <= 122 or 65 <= c <= 90:
                letter = True
        if not plain:
            runs = counted.get(t)
            if runs is None:
                runs = counted[t] = count(t)
            total += <Py_ssize_t>runs
        elif n and not letter:
            total += 1
    return total


def count_in_spans(str text not None, tuple spans not None) -> int:
    """How many characters of `text` fall in one of `spans` ((first, last) code points, inclusive)."""
    cdef Py_ssize_t total = 0, i, j, k = len(spans)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_UCS4 c, lowest = min(lo for lo, _ in spans) if k else 0
    cdef Py_UCS4 los[64]
    cdef Py_UCS4 his[64]
    if k > 64:
        raise ValueError("at most 64 spans")
    if k == 0 or (kind == 1 and lowest > 255):  # a 1-byte str holds no character past U+00FF
        return 0
    for j in range(k):
        los[j], his[j] = spans[j]
    for i in range(len(text)):
        c = PyUnicode_READ(kind, data, i)
        if c < lowest:
            continue
        for j in range(k):
            if los[j] <= c <= his[j]:
                total += 1
                break
    return total
