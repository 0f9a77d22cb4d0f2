# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Gopher's word n-gram counts in C: the same answers as `text.NumpyNGrams`, without its sorts.

Each count is one pass over the n-grams with an open-addressing hash table of n-gram start
positions. Two n-grams are equal only if their token ids are (compared exactly, so unlike the
numpy version no hash collision can change a count). Built by `make install` (setuptools runs
Cython); `text.NGrams` falls back to the numpy version where this module was not built.
"""

from cpython.dict cimport PyDict_GetItemWithError
from cpython.exc cimport PyErr_Occurred
from cpython.long cimport PyLong_AsSsize_t
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from libc.stdint cimport INT32_MAX, int32_t, int64_t, uint64_t
from libc.string cimport memcmp, memset


cdef inline uint64_t _splitmix64(uint64_t x) noexcept nogil:
    # Steele et al. 2014; the mixer text.NumpyNGrams uses.
    x = x + <uint64_t>0x9E3779B97F4A7C15
    x = (x ^ (x >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    x = (x ^ (x >> 27)) * <uint64_t>0x94D049BB133111EB
    return x ^ (x >> 31)


cdef struct _Slot:
    int32_t pos  # start of the n-gram's first occurrence; -1: empty
    int32_t count


cdef class _Table:
    """Open addressing with linear probing, 8 bytes a slot (a page's table stays in the L2 cache);
    a slot's hash is read back from the n-gram hashes at its position. One table serves every pass
    of a page: `clear` empties it."""

    cdef _Slot* slots
    cdef Py_ssize_t mask

    def __cinit__(self, Py_ssize_t items):
        cdef Py_ssize_t size = 16
        while size < 2 * items:
            size *= 2
        self.mask = size - 1
        self.slots = <_Slot*>PyMem_Malloc(size * sizeof(_Slot))
        if not self.slots:
            raise MemoryError()

    cdef void clear(self) noexcept nogil:
        memset(self.slots, 0xFF, (self.mask + 1) * sizeof(_Slot))  # pos = count = -1

    def __dealloc__(self):
        PyMem_Free(self.slots)


cdef class NGrams:
    """Counts over the word n-grams of one token sequence (the interface of text.NumpyNGrams)."""

    cdef int64_t* ids  # a token's id: the position of its first appearance
    cdef uint64_t* mixed  # splitmix64 of the id
    cdef int64_t* cum  # prefix sums of token lengths (characters)
    cdef uint64_t* rolling  # at each position, the hash of the `level`-gram starting there
    cdef Py_ssize_t n_tokens, level
    cdef _Table table
    # Which n-grams repeat, level by level: an n-gram can occur twice only where the (n-1)-grams at
    # its start and one token later both do, so each level's table holds only those candidates.
    cdef unsigned char* repeats  # at each position: the `counted`-gram there occurs more than once
    cdef int32_t* slot_at  # at each candidate position: its slot in the table (while counting)
    cdef Py_ssize_t counted  # the level `repeats` is at (0: none)
    cdef int32_t best, best_first  # the most frequent `counted`-gram: its count, its first position

    def __cinit__(self, tokens):
        """From the tokens (strs), or from a `_words.Tokens`' ids (a token's: the index of its first
        appearance) and lengths, with no str made."""
        cdef bytes ids = None, lengths = None
        if hasattr(tokens, "ids_and_lengths"):
            ids, lengths = tokens.ids_and_lengths()
        cdef tuple seq = tuple(tokens) if ids is None else ()
        cdef Py_ssize_t n = len(seq) if ids is None else len(ids) // sizeof(int64_t), i
        cdef dict first_seen = {}
        if n >= INT32_MAX:
            raise ValueError("more than 2**31 tokens")
        self.n_tokens = n
        self.ids = <int64_t*>PyMem_Malloc((n + 1) * sizeof(int64_t))
        self.mixed = <uint64_t*>PyMem_Malloc((n + 1) * sizeof(uint64_t))
        self.cum = <int64_t*>PyMem_Malloc((n + 1) * sizeof(int64_t))
        self.rolling = <uint64_t*>PyMem_Malloc((n + 1) * sizeof(uint64_t))
        self.repeats = <unsigned char*>PyMem_Malloc(n + 1)
        self.slot_at = <int32_t*>PyMem_Malloc((n + 1) * sizeof(int32_t))
        if (not self.ids or not self.mixed or not self.cum or not self.rolling or not self.repeats
                or not self.slot_at):
            raise MemoryError()
        self.cum[0] = 0
        self.level = n + 1  # no hashes yet: the first _hashes call starts from scratch
        self.table = _Table(n)
        if ids is not None:
            self._from_ids(ids, lengths)
            return
        cdef PyObject* known
        cdef str token  # a token that is not a str is a TypeError here, not a wrong length below
        for i in range(n):
            token = seq[i]
            known = PyDict_GetItemWithError(first_seen, token)  # borrowed: no int made for a known token
            if known is NULL:
                if PyErr_Occurred():
                    raise
                first_seen[token] = i
                self.ids[i] = i
            else:
                self.ids[i] = PyLong_AsSsize_t(<object>known)
            self.mixed[i] = _splitmix64(<uint64_t>self.ids[i])
            self.cum[i + 1] = self.cum[i] + len(token)

    cdef int _from_ids(self, bytes ids, bytes lengths) except -1:
        cdef Py_ssize_t n = self.n_tokens, i
        cdef const int64_t* given = <const int64_t*><const char*>ids
        cdef const int64_t* sizes = <const int64_t*><const char*>lengths
        if len(lengths) != len(ids) or len(ids) % sizeof(int64_t):
            raise ValueError("ids and lengths must be int64 bytes of the same length")
        for i in range(n):
            if not 0 <= given[i] <= i or given[given[i]] != given[i]:
                raise ValueError("an id must be the index of its token's first appearance")
            self.ids[i] = given[i]
            self.mixed[i] = _splitmix64(<uint64_t>given[i])
            self.cum[i + 1] = self.cum[i] + sizes[i]
        return 0

    def __dealloc__(self):
        PyMem_Free(self.ids)
        PyMem_Free(self.mixed)
        PyMem_Free(self.cum)
        PyMem_Free(self.rolling)
        PyMem_Free(self.repeats)
        PyMem_Free(self.slot_at)

    cdef void _hashes(self, Py_ssize_t n) noexcept nogil:
        """Bring `rolling` to the n-grams: a polynomial in the mixed ids, one term added a level, so
        Gopher's calls in increasing n (2, 3, 4, then 5..10) cost one step each. Order matters in
        the hash; equality is checked on the ids apart."""
        cdef Py_ssize_t i
        if n < self.level:
            self.level = 0
            for i in range(self.n_tokens):
                self.rolling[i] = 0
        while self.level < n:
            for i in range(self.n_tokens - self.level):
                self.rolling[i] = self.rolling[i] * <uint64_t>0x9E3779B97F4A7C15 + self.mixed[i + self.level]
            self.level += 1

    cdef _Slot* _find_or_add(self, Py_ssize_t start, Py_ssize_t n) noexcept:
        """The slot of the n-gram at `start`: the slot of an equal earlier one, else a new slot."""
        cdef uint64_t g = self.rolling[start]
        cdef Py_ssize_t j = <Py_ssize_t>(_splitmix64(g) & <uint64_t>self.table.mask)
        cdef _Slot* slot
        while True:
            slot = &self.table.slots[j]
            if slot.pos < 0:
                slot.pos, slot.count = <int32_t>start, 0
                return slot
            if (self.rolling[slot.pos] == g
                    and memcmp(&self.ids[slot.pos], &self.ids[start], n * sizeof(int64_t)) == 0):
                return slot
            j = (j + 1) & self.table.mask

    cdef void _count(self, Py_ssize_t n) noexcept:
        """Bring `repeats`, `best` and `best_first` to the n-grams, one level at a time: at each
        level only the candidates (both (n-1)-grams there repeat) are counted in the table; a
        position that is not one holds an n-gram that occurs once."""
        cdef Py_ssize_t k, i, m
        cdef _Slot* slot
        cdef bint candidate
        if n < self.counted or self.counted == 0:
            self._count_tokens()
        while self.counted < n:
            k = self.counted + 1
            m = self.n_tokens - k + 1
            self._hashes(k)
            self.table.clear()
            self.best, self.best_first = 0, 0
            for i in range(m):
                if self.repeats[i] and self.repeats[i + 1]:
                    slot = self._find_or_add(i, k)
                    slot.count += 1
                    self.slot_at[i] = <int32_t>(slot - self.table.slots)
                    if slot.count > self.best or (slot.count == self.best and slot.pos < self.best_first):
                        self.best, self.best_first = slot.count, slot.pos
            for i in range(m):  # in place: repeats[i + 1] is still the (k-1)-level's when read here
                candidate = self.repeats[i] and self.repeats[i + 1]
                self.repeats[i] = candidate and self.table.slots[self.slot_at[i]].count > 1
            for i in range(max(m, 0), self.n_tokens + 1):
                self.repeats[i] = 0
            self.counted = k

    cdef void _count_tokens(self) noexcept:
        """Level 1: which tokens occur more than once, counted by id (`slot_at` holds the counts)."""
        cdef Py_ssize_t i, n = self.n_tokens
        cdef int32_t c
        memset(self.slot_at, 0, (n + 1) * sizeof(int32_t))
        self.best, self.best_first = 0, 0
        for i in range(n):
            c = self.slot_at[self.ids[i]] + 1
            self.slot_at[self.ids[i]] = c
            if c > self.best or (c == self.best and self.ids[i] < self.best_first):
                self.best, self.best_first = c, <int32_t>self.ids[i]
        for i in range(n):
            self.repeats[i] = self.slot_at[self.ids[i]] > 1
        self.repeats[n] = 0
        self.counted = 1

    def top_chars(self, Py_ssize_t n) -> int:
        """Characters covered by the most frequent n-gram: count x len(" ".join(ngram)).
        Ties go to the n-gram seen first (as Counter.most_common in datatrove)."""
        if n <= 0 or self.n_tokens - n + 1 <= 0:
            return 0
        self._count(n)
        cdef Py_ssize_t best = self.best, first = self.best_first
        if best < 2:  # every n-gram once: the first one wins
            best, first = 1, 0
        return best * (self.cum[first + n] - self.cum[first] + n - 1)

    def dup_chars(self, Py_ssize_t n) -> int:
        """Characters in n-grams that repeat an earlier n-gram, scanning left to right and
        jumping n words past each repeat so overlapping repeats count once (Gopher; datatrove's
        find_all_duplicate). An n-gram can repeat only where every k-gram inside it does (k the
        level counted last, at most n: 4 after Gopher's top n-grams), so only those positions go
        in the table; any other holds an n-gram that occurs once, which no scan position matches."""
        cdef Py_ssize_t m = self.n_tokens - n + 1, i, run = 0, need
        cdef int64_t chars = 0
        if m <= 0 or n <= 0:
            return 0
        if self.counted == 0 or self.counted > n:
            self._count_tokens()
        need = n - self.counted + 1  # consecutive repeated k-grams an n-gram spans
        for i in range(self.n_tokens - 1, -1, -1):  # slot_at: the run of repeated k-grams from i on
            run = run + 1 if self.repeats[i] else 0
            self.slot_at[i] = <int32_t>min(run, INT32_MAX)
        self._hashes(n)
        self.table.clear()
        i = 0
        while i < m:
            if self.slot_at[i] >= need and self._find_or_add(i, n).pos != i:  # seen at a visited position
                chars += self.cum[i + n] - self.cum[i]
                i += n
            else:
                i += 1
        return chars
