# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""fastText's predict (top label) for a supervised hierarchical-softmax model, the same floats.

`Predictor(arrays).predict(sample)` returns what `fasttext.FastText._FastText.predict(sample, k=1)`
returns, as (label id, probability), for the model variant `fasttext_file.read_model` reads: it
reads the line's words as `Dictionary::readWord` / `getLine` do (bytes split at " \\n\\r\\t\\v\\f\\0",
a "</s>" ends the line, "__label__" tokens skipped), takes a known word's rows ([id] + its n-grams)
and an unknown word's character n-grams (`computeSubwords`: 2..4 characters of "<word>", FNV-1a
with fastText's sign-extended bytes, modulo the bucket count, kept where the quantized model kept
the bucket), adds those rows in fastText's order in float32 and scales by 1/rows, then walks the
Huffman tree (`HierarchicalSoftmaxLoss::dfs`, k = 1, threshold 0) with fastText's float and double
steps. The difference from fastText is where the rows come from: a flat array per bucket instead
of a `std::unordered_map` probed twice per n-gram, and each known word's rows computed once.
tests/test_lid.py compares both, bit for bit, on seeded strings and every shared page.
"""

from libc.math cimport expf, log
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp

import numpy as np

cdef uint32_t FNV_OFFSET = 2166136261u
cdef uint32_t FNV_PRIME = 16777619u
cdef bytes EOS = b"</s>"
cdef bytes LABEL = b"__label__"


cdef inline uint32_t _step(uint32_t h, uint8_t byte) noexcept nogil:
    return (h ^ <uint32_t><int8_t>byte) * FNV_PRIME  # Dictionary::hash: uint32_t(int8_t(str[i]))


cdef inline bint _is_separator(uint8_t c) noexcept nogil:
    return c == 32 or c == 10 or c == 13 or c == 9 or c == 11 or c == 12 or c == 0  # readWord's


cdef inline float _std_log(float x) noexcept nogil:
    return <float>log(<double>x + 1e-5)  # Loss::std_log: std::log(x + 1e-5), x a float


cdef class Predictor:
    """The arrays of one model, ready for `predict`."""

    cdef int dim, minn, maxn, nwords, osz
    cdef uint32_t bucket
    cdef const int32_t[::1] prune  # empty when nothing was pruned
    cdef bint pruned
    cdef const float[:, ::1] rows
    cdef const float[:, ::1] out_rows
    cdef const float[::1] out_norms
    cdef int32_t[::1] left, right  # the Huffman tree's children, -1 at a leaf
    cdef int32_t[::1] slots  # open addressing over the words: word id, -1 free
    cdef uint32_t slot_mask
    cdef bytes blob  # the words, end to end: word i is blob[offset[i]:offset[i + 1]]
    cdef int64_t[::1] offset
    cdef int32_t[::1] word_start, word_rows  # word i's rows: word_rows[word_start[i]:word_start[i + 1]]
    cdef int eos
    cdef int32_t* found  # scratch: the rows of one line (grown as needed)
    cdef Py_ssize_t found_cap

    def __cinit__(self) -> None:
        self.found = NULL
        self.found_cap = 0

    def __dealloc__(self) -> None:
        free(self.found)

    def __init__(self, arrays) -> None:
        self.dim, self.minn, self.maxn = arrays.dim, arrays.minn, arrays.maxn
        self.bucket = arrays.bucket
        self.pruned = arrays.prune is not None
        self.prune = arrays.prune if self.pruned else np.empty(0, dtype=np.int32)
        self.rows = np.ascontiguousarray(arrays.input_rows, dtype=np.float32)
        self.out_rows = arrays.output_rows
        self.out_norms = arrays.output_norms
        self.blob = b"".join(arrays.words)
        self.offset = np.cumsum([0] + [len(w) for w in arrays.words], dtype=np.int64)
        self.nwords = len(arrays.words)
        self.osz = len(arrays.label_counts)
        self._tree(arrays.label_counts)
        self._vocabulary()
        self._grow(1024)

    def _tree(self, counts) -> None:
        """HierarchicalSoftmaxLoss::buildTree: the Huffman tree over the label counts (sorted, descending)."""
        n = 2 * self.osz - 1
        count = np.full(n, 10**15, dtype=np.int64)
        count[:self.osz] = counts
        left = np.full(n, -1, dtype=np.int32)
        right = np.full(n, -1, dtype=np.int32)
        leaf, node = self.osz - 1, self.osz
        for i in range(self.osz, n):
            pick = []
            for _ in range(2):
                if leaf >= 0 and count[leaf] < count[node]:
                    pick.append(leaf)
                    leaf -= 1
                else:
                    pick.append(node)
                    node += 1
            left[i], right[i] = pick
            count[i] = count[pick[0]] + count[pick[1]]
        self.left, self.right = left, right

    def _vocabulary(self) -> None:
        """The word table, and each word's rows as Dictionary::initNgrams computes them."""
        size = 1
        while size < 2 * self.nwords:
            size *= 2
        self.slot_mask = size - 1
        self.slots = np.full(size, -1, dtype=np.int32)
        starts, rows = [0], []
        self.eos = -1
        for i in range(self.nwords):
            word = self.blob[self.offset[i]:self.offset[i + 1]]
            slot = self._hash(word) & self.slot_mask
            while self.slots[slot] != -1:
                slot = (slot + 1) & self.slot_mask
            self.slots[slot] = i
            rows.append(i)
            if word == EOS:
                self.eos = i
            else:
                rows.extend(self._subword_rows(b"<" + word + b">"))
            starts.append(len(rows))
        self.word_start = np.array(starts, dtype=np.int32)
        self.word_rows = np.array(rows, dtype=np.int32)

    cdef uint32_t _hash(self, const uint8_t[:] word):
        cdef uint32_t h = FNV_OFFSET
        cdef Py_ssize_t i
        for i in range(word.shape[0]):
            h = _step(h, word[i])
        return h

    def _subword_rows(self, bytes word) -> list:
        self._grow(self._bound(len(word)))
        n = self._subwords(word, len(word), self.found, 0)
        return [self.found[i] for i in range(n)]

    cdef Py_ssize_t _bound(self, Py_ssize_t size) noexcept:
        """At most how many rows `size` bytes add: a token of b bytes adds its id and at most
        (maxn - minn + 1) n-grams starting at each of its b + 2 bytes (b + 2 <= 3 b)."""
        return (max(self.maxn - self.minn + 1, 0) + 1) * 3 * size + 64

    cdef int _grow(self, Py_ssize_t need) except -1:
        cdef int32_t* grown
        if need <= self.found_cap:
            return 0
        grown = <int32_t*>malloc(need * 2 * sizeof(int32_t))
        if grown == NULL:
            raise MemoryError()
        free(self.found)
        self.found, self.found_cap = grown, need * 2
        return 0

    cdef Py_ssize_t _subwords(self, const uint8_t* word, Py_ssize_t size, int32_t* out,
                              Py_ssize_t n) noexcept nogil:
        """Dictionary::computeSubwords + pushHash: the rows of the character n-grams of `word`
        (with its "<" and ">"), appended at out[n]; the new count."""
        cdef Py_ssize_t i, j
        cdef int chars
        cdef uint32_t h
        cdef int32_t bucket_row
        for i in range(size):
            if (word[i] & 0xC0) == 0x80:
                continue
            h = FNV_OFFSET
            j = i
            chars = 1
            while j < size and chars <= self.maxn:
                h = _step(h, word[j])
                j += 1
                while j < size and (word[j] & 0xC0) == 0x80:
                    h = _step(h, word[j])
                    j += 1
                if chars >= self.minn and not (chars == 1 and (i == 0 or j == size)):
                    bucket_row = <int32_t>(h % self.bucket)
                    if self.pruned:
                        bucket_row = self.prune[bucket_row]
                    if bucket_row >= 0:
                        out[n] = self.nwords + bucket_row
                        n += 1
                chars += 1
        return n

    cdef int _lookup(self, const uint8_t* token, Py_ssize_t size) noexcept:
        """The id of a vocabulary word, -1 if unknown."""
        cdef uint32_t h = FNV_OFFSET
        cdef Py_ssize_t i
        cdef int32_t wid
        cdef const char* blob = self.blob
        for i in range(size):
            h = _step(h, token[i])
        i = h & self.slot_mask
        while True:
            wid = self.slots[i]
            if wid == -1:
                return -1
            if self.offset[wid + 1] - self.offset[wid] == size \
                    and memcmp(blob + self.offset[wid], token, size) == 0:
                return wid
            i = (i + 1) & self.slot_mask

    cdef Py_ssize_t _line_rows(self, const uint8_t* line, Py_ssize_t size) except -1:
        """Dictionary::getLine: the rows of the line's words, in order, into self.found."""
        cdef Py_ssize_t i = 0, start, n = 0
        cdef int wid
        cdef bytes label = LABEL
        cdef Py_ssize_t label_size = len(label)
        self._grow(self._bound(size))
        while i < size:
            if _is_separator(line[i]):
                if line[i] == 10:  # an empty word at a newline: "</s>", the line's end
                    if self.eos >= 0:
                        n = self._add_word(self.eos, n)
                    return n
                i += 1
                continue
            start = i
            while i < size and not _is_separator(line[i]):
                i += 1
            if i - start >= label_size and memcmp(line + start, <const char*>label, label_size) == 0:
                continue  # a label: not an input word
            wid = self._lookup(line + start, i - start)
            if wid >= 0:
                n = self._add_word(wid, n)
                if wid == self.eos:  # "</s>" spelled out in the text ends the line too
                    return n
            elif i - start == 4 and memcmp(line + start, <const char*>EOS, 4) == 0:
                return n  # (where the vocabulary has no "</s>")
            else:
                n = self._oov(line + start, i - start, n)
        return n

    cdef Py_ssize_t _add_word(self, int wid, Py_ssize_t n) noexcept:
        cdef Py_ssize_t k
        for k in range(self.word_start[wid], self.word_start[wid + 1]):
            self.found[n] = self.word_rows[k]
            n += 1
        return n

    cdef Py_ssize_t _oov(self, const uint8_t* token, Py_ssize_t size, Py_ssize_t n) except -1:
        cdef Py_ssize_t k
        cdef uint8_t* word = <uint8_t*>malloc(size + 2)
        if word == NULL:
            raise MemoryError()
        word[0] = 60  # "<"
        for k in range(size):
            word[k + 1] = token[k]
        word[size + 1] = 62  # ">"
        n = self._subwords(word, size + 2, self.found, n)
        free(word)
        return n

    def predict(self, str sample):
        """(label id, probability) of fastText's predict(sample, k=1); (-1, 0.0) where it predicts
        nothing. Raises UnicodeEncodeError where `sample` is not valid UTF-8 (a lone surrogate)."""
        cdef bytes line = sample.encode("utf-8") + b"\n"  # the Python wrapper appends the newline
        cdef Py_ssize_t n = self._line_rows(line, len(line))
        if n == 0:  # FastText::predict: no input rows, no prediction
            return -1, 0.0
        cdef float* hidden = <float*>malloc(self.dim * sizeof(float))
        if hidden == NULL:
            raise MemoryError()
        cdef Py_ssize_t i
        cdef int d
        cdef const float* row
        cdef float scale = <float>(1.0 / <double>n)  # Vector::mul(1.0 / rows.size()), a float
        for d in range(self.dim):
            hidden[d] = 0
        for i in range(n):
            row = &self.rows[self.found[i], 0]
            for d in range(self.dim):
                hidden[d] += row[d]
        for d in range(self.dim):
            hidden[d] *= scale
        cdef float best = 0
        cdef int best_node = -1
        self._dfs(2 * self.osz - 2, 0, hidden, _std_log(0), &best, &best_node)
        free(hidden)
        if best_node < 0:
            return -1, 0.0
        return best_node, expf(best)

    cdef void _dfs(self, int node, float score, const float* hidden, float floor, float* best,
                   int* best_node) noexcept:
        """HierarchicalSoftmaxLoss::dfs with k = 1: a leaf not below the best so far replaces it."""
        cdef float f
        cdef int d
        if score < floor:
            return
        if best_node[0] >= 0 and score < best[0]:
            return
        if self.left[node] == -1 and self.right[node] == -1:
            best[0], best_node[0] = score, node
            return
        f = 0
        for d in range(self.dim):  # dotRow: the sum, then the row's norm
            f += hidden[d] * self.out_rows[node - self.osz, d]
        f = f * self.out_norms[node - self.osz]
        f = <float>(1.0 / <double>(<float>1 + expf(-f)))  # 1. / (1 + std::exp(-f)), f a float
        self._dfs(self.left[node], score + _std_log(<float>(1.0 - <double>f)), hidden, floor, best, best_node)
        self._dfs(self.right[node], score + _std_log(f), hidden, floor, best, best_node)
