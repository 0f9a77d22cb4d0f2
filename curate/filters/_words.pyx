# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""A page's words in C, for Gopher and FineWeb: `Tokens` (the tokens of `text.words`, as spans with
ids, and Gopher quality's counts over them) and `count_in_spans` (the CJK count).

Built by `make install` (setuptools runs Cython); `text.tokens` falls back to `text.PyTokens` and
`text.count_cjk` to a regex where this module was not built (the same values: tests/test_filters.py).
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DATA, PyUnicode_KIND, PyUnicode_READ
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint64_t
from libc.string cimport memcmp, memset


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


# ---- the tokens of a page as spans of its text, each with an id (no str per token)

cdef inline uint64_t _hash_span(int kind, void* data, Py_ssize_t start, Py_ssize_t end) noexcept:
    """FNV-1a over the code points (not the bytes: the same value for a str of any kind)."""
    cdef uint64_t h = <uint64_t>0xCBF29CE484222325
    cdef Py_ssize_t i
    for i in range(start, end):
        h = (h ^ <uint64_t>PyUnicode_READ(kind, data, i)) * <uint64_t>0x100000001B3
    return h ^ (h >> 29)


cdef enum:  # a character's class in `Tokens`' table: TOKEN_RE's view of it (text.char_class)
    SPACE = 0  # regex \s
    WORD = 1  # regex \w, not CJK
    CJK = 2  # text.CJK_RANGES: a token alone
    OTHER = 3  # anything else: punctuation, symbols, controls, lone surrogates (a token alone)
    LETTER = 4  # a bit added to the class: \p{L}
    UNKNOWN = 255  # not asked yet


cdef class Tokens:
    """`TOKEN_RE.findall(text)` (= `text.words(text)`) as spans of `text`, each token with an id (the
    index of its first appearance), and what Gopher reads of them: the ids and lengths for the
    n-gram counts, the word count, the words' characters, the words without a letter, which tokens
    occur. No str is made per token: one pass over the text reads each character's class from
    `classes` (one byte per code point, filled as characters turn up by `classify`, which asks
    TOKEN_RE's own \w and \s) and follows TOKEN_RE's alternatives in its order; equal tokens are
    found by an open-addressing table over the spans, compared character by character (no hash
    collision can merge two)."""

    cdef str text
    cdef int kind
    cdef void* data
    cdef int64_t* starts
    cdef int64_t* lengths
    cdef int64_t* ids
    cdef Py_ssize_t n, cap
    cdef int32_t* slots  # index of a distinct token's first appearance; -1: empty
    cdef Py_ssize_t mask, distinct
    cdef bytearray classes
    cdef unsigned char* cls
    cdef object classify

    def __cinit__(self, str text not None, bytearray classes not None, classify not None):
        if len(classes) != 0x110000:
            raise ValueError("classes: one byte per code point")
        self.classes, self.cls, self.classify = classes, classes, classify
        self.text, self.kind, self.data = text, PyUnicode_KIND(text), PyUnicode_DATA(text)
        if len(text) >= INT32_MAX:
            raise ValueError("a text of 2**31 characters or more")
        self.cap, self.mask = 64, 127
        self.starts = <int64_t*>PyMem_Malloc(self.cap * sizeof(int64_t))
        self.lengths = <int64_t*>PyMem_Malloc(self.cap * sizeof(int64_t))
        self.ids = <int64_t*>PyMem_Malloc(self.cap * sizeof(int64_t))
        self.slots = <int32_t*>PyMem_Malloc((self.mask + 1) * sizeof(int32_t))
        if not self.starts or not self.lengths or not self.ids or not self.slots:
            raise MemoryError()
        memset(self.slots, 0xFF, (self.mask + 1) * sizeof(int32_t))
        self._split()

    def __dealloc__(self):
        PyMem_Free(self.starts)
        PyMem_Free(self.lengths)
        PyMem_Free(self.ids)
        PyMem_Free(self.slots)

    cdef inline unsigned char _bits(self, Py_UCS4 c) except 255:
        """The class of code point c with its LETTER bit, asked of `classify` the first time."""
        cdef unsigned char k = self.cls[c]
        if k == UNKNOWN:
            k = self.cls[c] = <unsigned char>self.classify(<long>c)
        return k

    cdef inline unsigned char _class(self, Py_UCS4 c) except 255:
        """The class of code point c, without its LETTER bit."""
        return self._bits(c) & 3

    cdef int _split(self) except -1:
        """TOKEN_RE's alternatives, tried in its order at each character that is not \s: a CJK
        character; a run of word characters joined by `'`, `’` or `.` when a word character
        follows; "..."; any other single character."""
        cdef Py_ssize_t n = len(self.text), i = 0, j
        cdef int kind = self.kind
        cdef void* data = self.data
        cdef Py_UCS4 c
        cdef unsigned char k
        while i < n:
            c = PyUnicode_READ(kind, data, i)
            k = self._class(c)
            if k == SPACE:
                i += 1
                continue
            j = i + 1
            if k == WORD:
                while True:
                    while j < n and self._class(PyUnicode_READ(kind, data, j)) == WORD:
                        j += 1
                    if j + 1 < n and self._class(PyUnicode_READ(kind, data, j + 1)) == WORD:
                        c = PyUnicode_READ(kind, data, j)
                        if c == 39 or c == 0x2019 or c == 46:  # ' ’ .
                            j += 2
                            continue
                    break
            elif (c == 46 and j + 1 < n and PyUnicode_READ(kind, data, j) == 46
                    and PyUnicode_READ(kind, data, j + 1) == 46):  # "..."
                j += 2
            self._add(i, j)
            i = j
        return 0

    cdef int _add(self, Py_ssize_t start, Py_ssize_t end) except -1:
        cdef Py_ssize_t i = self.n, j
        if i == self.cap:
            self._grow()
        self.starts[i], self.lengths[i] = start, end - start
        j = self._slot_of(self.kind, self.data, start, end - start)
        if self.slots[j] < 0:
            self.slots[j] = <int32_t>i
            self.ids[i] = i
            self.distinct += 1
        else:
            self.ids[i] = self.slots[j]
        self.n += 1
        if 2 * self.distinct > self.mask:
            self._rehash()
        return 0

    cdef Py_ssize_t _slot_of(self, int kind, void* data, Py_ssize_t start, Py_ssize_t length) noexcept:
        """The slot holding the token equal to the `length` characters at `start` of `data` (a str
        buffer of `kind`), or the empty slot where it would go."""
        cdef Py_ssize_t j = <Py_ssize_t>(_hash_span(kind, data, start, start + length) & <uint64_t>self.mask)
        cdef Py_ssize_t k, first
        while True:
            first = self.slots[j]
            if first < 0:
                return j
            if self.lengths[first] == length:
                if kind == self.kind:
                    if memcmp(<char*>data + start * kind, <char*>self.data + self.starts[first] * kind,
                              length * kind) == 0:
                        return j
                else:
                    for k in range(length):
                        if (PyUnicode_READ(kind, data, start + k)
                                != PyUnicode_READ(self.kind, self.data, self.starts[first] + k)):
                            break
                    else:
                        return j
            j = (j + 1) & self.mask

    cdef int _grow(self) except -1:
        cdef Py_ssize_t cap = 2 * self.cap
        cdef int64_t* starts = <int64_t*>PyMem_Realloc(self.starts, cap * sizeof(int64_t))
        if not starts:
            raise MemoryError()
        self.starts = starts
        cdef int64_t* lengths = <int64_t*>PyMem_Realloc(self.lengths, cap * sizeof(int64_t))
        if not lengths:
            raise MemoryError()
        self.lengths = lengths
        cdef int64_t* ids = <int64_t*>PyMem_Realloc(self.ids, cap * sizeof(int64_t))
        if not ids:
            raise MemoryError()
        self.ids, self.cap = ids, cap
        return 0

    cdef int _rehash(self) except -1:
        """Double the table and put back the first appearances."""
        cdef Py_ssize_t size = 2 * (self.mask + 1), i
        cdef int32_t* slots = <int32_t*>PyMem_Malloc(size * sizeof(int32_t))
        if not slots:
            raise MemoryError()
        memset(slots, 0xFF, size * sizeof(int32_t))
        PyMem_Free(self.slots)
        self.slots, self.mask = slots, size - 1
        for i in range(self.n):
            if self.ids[i] == i:
                self.slots[self._slot_of(self.kind, self.data, self.starts[i], self.lengths[i])] = <int32_t>i
        return 0

    # ---- what Gopher reads

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, Py_ssize_t i) -> str:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.text[self.starts[i] : self.starts[i] + self.lengths[i]]

    def ids_and_lengths(self) -> tuple:
        """(ids, lengths) as bytes of native int64s: what `_ngrams.NGrams` is built from."""
        return (PyBytes_FromStringAndSize(<char*>self.ids, self.n * sizeof(int64_t)),
                PyBytes_FromStringAndSize(<char*>self.lengths, self.n * sizeof(int64_t)))

    def __contains__(self, token) -> bool:
        """Whether `token` is one of the tokens (one table probe)."""
        if not isinstance(token, str) or not token or self.n == 0:
            return False
        return self.slots[self._slot_of(PyUnicode_KIND(token), PyUnicode_DATA(token), 0, len(token))] >= 0

    def word_stats(self) -> tuple:
        """(word tokens, their characters, those without a letter), as `len(word_tokens(text))`,
        their summed lengths and `count_no_letter` give them: every token but "..." and the single
        characters that are neither word nor CJK is a word; a word has no letter when none of its
        characters is \p{L} (a token holds no \s, so it is one `_NO_LETTER_TOKEN` run or none)."""
        cdef Py_ssize_t i, k, start, length, words = 0, chars = 0, no_letter = 0
        cdef int kind = self.kind
        cdef void* data = self.data
        cdef Py_UCS4 c
        cdef bint letter
        for i in range(self.n):
            start, length = self.starts[i], self.lengths[i]
            c = PyUnicode_READ(kind, data, start)
            if length == 1:
                if self._class(c) != WORD and self._class(c) != CJK:
                    continue
            elif length == 3 and c == 46 and PyUnicode_READ(kind, data, start + 1) == 46:
                continue  # "..." (a word never starts with ".")
            words += 1
            chars += length
            letter = False
            for k in range(start, start + length):  # a joiner (' ’ .) may not have been asked yet
                if self._bits(PyUnicode_READ(kind, data, k)) & LETTER:
                    letter = True
                    break
            no_letter += not letter
        return words, chars, no_letter
