/* Passes over UTF-8 text buffers for the profile: word and piece numbering, grouping, and
   the corrupted-text scan's first look.

   pyarrow has no kernel that splits texts into words and numbers the distinct words in one
   pass: split_pattern copies every word into a new list array, then dictionary_encode
   hashes each copy (about 1.5 s of CPU for 22 million words). These functions read the
   texts in place (arrow's offsets and data buffers, through the buffer protocol) and
   release the GIL while they run, so two threads can take two halves.

   split_encode(offsets, width, data)
       Each text split as Python's str.split() splits it (runs of Unicode whitespace, no
       empty words; a text without words gives one empty word, as "".split(" ") does);
       returns (ids int32, text_offsets int64, word_offsets int64, word_data): every word's
       id, where each text's ids start, and the distinct words in order of first
       occurrence (arrow large_string buffers).

   split_encode(offsets, width, data, 1, word_chars)
       The same for the tokenizer's pieces of each text (one whitespace word): runs of word
       characters ([A-Za-z0-9_] and the non-ASCII code points listed, sorted, in
       word_chars: uint32) and single other characters; an empty text has none.

   strip_encode(offsets, width, data, word_chars)
       Each text without its characters that are not word characters, numbered in order of
       first occurrence: (codes int32, then the distinct results' buffers), as a regex
       replace of non-word runs with "" followed by dictionary_encode.

   group_spans(offsets, width, data, codes)
       Numbers the distinct byte strings data[offsets[i]:offsets[i + 1]] in order of first
       occurrence, writes each one's number to codes (int32) and returns how many there
       are: arrow's dictionary_encode of a binary column, without copying the values.

   codepoints(offsets, width, data, marks, collect)
       The non-ASCII code points present (marks set), or the occurrences of the marked
       ones with the text each is in: what the Unicode finding reads, in one pass.

   candidates(offsets, width, data, out)
       Marks (out, one byte per text) the texts that hold what the corrupted-text scan's
       first regex looks for (corrupted.py _CANDIDATE), in one pass over the bytes.

   The pure pyarrow path in normalize.py is the reference; a test compares the two on
   awkward texts. The module is optional: without a C compiler the reference runs. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t hash_bytes(const uint8_t *p, int64_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    if (n > 0) {
        uint64_t w = 0;
        memcpy(&w, p, (size_t)n);
        h = (h ^ w) * 0x94D049BB133111EBULL;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
}

/* Open addressing, linear probing. A slot holds the key's hash in its upper 32 bits and
   its number + 1 in the lower (0: empty), so a probe reads the slot alone unless the hashes
   agree. Per number: the full hash (to grow) and where the key's bytes are, either in the
   caller's data or, with `own` set, copied into the table's arena: a word's first
   occurrence may lie anywhere in a large buffer, the arena keeps the distinct words
   together (and in cache). */
typedef struct {
    uint64_t *slots;
    uint64_t mask;
    uint64_t *hashes;
    int64_t *starts;
    int64_t *lengths;
    int64_t count;
    int64_t capacity; /* of the per-key arrays */
    int own;
    uint8_t *arena;
    int64_t arena_used, arena_size;
    /* Short keys found lately, with their bytes: a direct-mapped cache small enough for
       the CPU's own (384 KiB), which most lookups of frequent words end in. */
    struct recent {
        uint64_t bytes[2]; /* the key, zero-padded (keys of 1 to 16 bytes only) */
        uint32_t check;    /* the hash's upper bits, the key's length in the low 5 */
        uint32_t number;   /* + 1; 0: empty */
    } *recent;
} Table;

#define RECENT_BITS 14

static int table_init(Table *t, int64_t expected, int own)
{
    uint64_t size = 1024;
    while (size < (uint64_t)expected * 2)
        size <<= 1;
    memset(t, 0, sizeof(Table));
    t->slots = calloc(size, sizeof(uint64_t));
    t->mask = size - 1;
    t->capacity = (int64_t)(size / 2);
    t->hashes = malloc(sizeof(uint64_t) * t->capacity);
    t->starts = malloc(sizeof(int64_t) * t->capacity);
    t->lengths = malloc(sizeof(int64_t) * t->capacity);
    t->own = own;
    t->recent = calloc((size_t)1 << RECENT_BITS, sizeof(struct recent));
    if (own) {
        t->arena_size = 1 << 20;
        t->arena = malloc((size_t)t->arena_size);
    }
    return t->slots && t->hashes && t->starts && t->lengths && t->recent && (!own || t->arena)
               ? 0
               : -1;
}

static void table_free(Table *t)
{
    free(t->slots);
    free(t->hashes);
    free(t->starts);
    free(t->lengths);
    free(t->arena);
    free(t->recent);
}

static int table_grow(Table *t)
{
    uint64_t size = (t->mask + 1) << 1;
    if (size > ((uint64_t)1 << 32))
        return -1; /* over 2**31 distinct keys: their int32 numbers would not fit */
    uint64_t *slots = calloc(size, sizeof(uint64_t));
    int64_t capacity = (int64_t)(size / 2);
    uint64_t *hashes = realloc(t->hashes, sizeof(uint64_t) * capacity);
    if (hashes)
        t->hashes = hashes;
    int64_t *starts = realloc(t->starts, sizeof(int64_t) * capacity);
    if (starts)
        t->starts = starts;
    int64_t *lengths = realloc(t->lengths, sizeof(int64_t) * capacity);
    if (lengths)
        t->lengths = lengths;
    if (!slots || !hashes || !starts || !lengths) {
        free(slots);
        return -1;
    }
    free(t->slots);
    t->slots = slots;
    t->mask = size - 1;
    t->capacity = capacity;
    for (int64_t k = 0; k < t->count; k++) {
        uint64_t h = t->hashes[k], i = h & t->mask;
        while (slots[i])
            i = (i + 1) & t->mask;
        slots[i] = (h & 0xFFFFFFFF00000000ULL) | (uint64_t)(k + 1);
    }
    return 0;
}

static inline const uint8_t *key_bytes(const Table *t, const uint8_t *data, int64_t k)
{
    return (t->own ? t->arena : data) + t->starts[k];
}

static inline int same_bytes(const uint8_t *a, const uint8_t *b, int64_t len)
{
    if (len > 16)
        return memcmp(a, b, (size_t)len) == 0;
    for (int64_t j = 0; j < len; j++)
        if (a[j] != b[j])
            return 0;
    return 1;
}

/* The number of data[start:start + len], adding it when new; -1 when out of memory. */
static inline int64_t table_find_hashed(Table *t, const uint8_t *data, int64_t start, int64_t len,
                                        uint64_t h);

static inline int64_t table_find(Table *t, const uint8_t *data, int64_t start, int64_t len)
{
    return table_find_hashed(t, data, start, len, hash_bytes(data + start, len));
}

/* Ask the CPU for the cache lines a lookup of hash h will read (a lookup that misses the
   cache waits ~100 ns for memory; several asked for at once arrive together). */
static inline void table_prefetch(const Table *t, uint64_t h)
{
    __builtin_prefetch(t->slots + (h & t->mask));
    __builtin_prefetch(t->recent + ((h >> 12) & ((1 << RECENT_BITS) - 1)));
}

/* table_find, with the key's hash already known. */
static inline int64_t table_find_hashed(Table *t, const uint8_t *data, int64_t start, int64_t len,
                                        uint64_t h)
{
    uint64_t tag = h & 0xFFFFFFFF00000000ULL;
    struct recent *recent = NULL;
    uint64_t bytes[2] = {0, 0};
    uint32_t check = (uint32_t)((h >> 32) & ~0x1FULL) | (uint32_t)len;
    if (len >= 1 && len <= 16) {
        memcpy(bytes, data + start, (size_t)len);
        recent = t->recent + ((h >> 12) & ((1 << RECENT_BITS) - 1));
        if (recent->number && recent->check == check && recent->bytes[0] == bytes[0] &&
            recent->bytes[1] == bytes[1])
            return (int64_t)recent->number - 1;
    }
    uint64_t i = h & t->mask;
    for (;;) {
        uint64_t s = t->slots[i];
        if (!s)
            break;
        if ((s & 0xFFFFFFFF00000000ULL) == tag) {
            int64_t k = (int64_t)(s & 0xFFFFFFFFULL) - 1;
            if (t->lengths[k] == len && same_bytes(key_bytes(t, data, k), data + start, len)) {
                if (recent) {
                    recent->bytes[0] = bytes[0];
                    recent->bytes[1] = bytes[1];
                    recent->check = check;
                    recent->number = (uint32_t)(k + 1);
                }
                return k;
            }
        }
        i = (i + 1) & t->mask;
    }
    if (t->count >= t->capacity) {
        if (table_grow(t) < 0)
            return -1;
        i = h & t->mask;
        while (t->slots[i])
            i = (i + 1) & t->mask;
    }
    int64_t at = start;
    if (t->own) {
        if (t->arena_used + len > t->arena_size) {
            int64_t size = t->arena_size * 2;
            while (t->arena_used + len > size)
                size *= 2;
            uint8_t *grown = realloc(t->arena, (size_t)size);
            if (!grown)
                return -1;
            t->arena = grown;
            t->arena_size = size;
        }
        memcpy(t->arena + t->arena_used, data + start, (size_t)len);
        at = t->arena_used;
        t->arena_used += len;
    }
    int64_t k = t->count++;
    t->hashes[k] = h;
    t->starts[k] = at;
    t->lengths[k] = len;
    t->slots[i] = tag | (uint64_t)(k + 1);
    return k;
}

static inline int64_t offset_at(const void *offsets, int width, int64_t i)
{
    return width == 4 ? (int64_t)((const int32_t *)offsets)[i] : ((const int64_t *)offsets)[i];
}

/* Byte length of the whitespace character at p (0: not whitespace), as str.isspace():
   \t \n \v \f \r, \x1c-\x1f, space, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
   U+202F, U+205F, U+3000. */
static inline int space_len(const uint8_t *p, const uint8_t *end)
{
    uint8_t b = p[0];
    if (b < 0x80)
        return (b == ' ' || (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x1F)) ? 1 : 0;
    if (b == 0xC2 && end - p >= 2)
        return (p[1] == 0x85 || p[1] == 0xA0) ? 2 : 0;
    if (end - p < 3)
        return 0;
    if (b == 0xE1)
        return (p[1] == 0x9A && p[2] == 0x80) ? 3 : 0;
    if (b == 0xE2) {
        if (p[1] == 0x80) /* U+2000-U+200A, U+2028, U+2029, U+202F */
            return ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 ||
                    p[2] == 0xAF)
                       ? 3
                       : 0;
        return (p[1] == 0x81 && p[2] == 0x9F) ? 3 : 0;
    }
    if (b == 0xE3)
        return (p[1] == 0x80 && p[2] == 0x80) ? 3 : 0;
    return 0;
}

static int get_buffers(PyObject *offsets_obj, int width, PyObject *data_obj, Py_buffer *offsets,
                       Py_buffer *data, int64_t *n)
{
    if (width != 4 && width != 8) {
        PyErr_SetString(PyExc_ValueError, "width must be 4 or 8");
        return -1;
    }
    if (PyObject_GetBuffer(offsets_obj, offsets, PyBUF_SIMPLE) < 0)
        return -1;
    if (PyObject_GetBuffer(data_obj, data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(offsets);
        return -1;
    }
    if (offsets->len < width || offsets->len % width) {
        PyErr_SetString(PyExc_ValueError, "offsets must hold n + 1 whole entries");
        goto fail;
    }
    if ((uintptr_t)offsets->buf % (uintptr_t)width) {
        PyErr_SetString(PyExc_ValueError, "offsets must be aligned to their width");
        goto fail;
    }
    *n = offsets->len / width - 1;
    if (*n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "more than 2**31 - 1 texts");
        goto fail;
    }
    for (int64_t i = 0; i <= *n; i += (*n > 0 ? *n : 1)) {
        int64_t at = offset_at(offsets->buf, width, i);
        if (at < 0 || at > data->len)
            goto bad;
    }
    return 0;
bad:
    PyErr_SetString(PyExc_ValueError, "offsets point outside the data");
fail:
    PyBuffer_Release(offsets);
    PyBuffer_Release(data);
    return -1;
}

static PyObject *to_bytearray(const void *p, int64_t nbytes)
{
    return PyByteArray_FromStringAndSize(nbytes ? (const char *)p : "", (Py_ssize_t)nbytes);
}

/* The next word of data[*at:e] (a run of non-whitespace): 1 and its bounds, or 0. */
static inline int next_word(const uint8_t *data, int64_t *at, int64_t e, int64_t *ws, int64_t *we)
{
    const uint8_t *end = data + e;
    int64_t i = *at;
    for (;;) { /* skip whitespace */
        if (i >= e) {
            *at = i;
            return 0;
        }
        int w = data[i] < 0x80 && data[i] > ' ' ? 0 : space_len(data + i, end);
        if (!w)
            break;
        i += w;
    }
    *ws = i;
    while (i < e) {
        if ((data[i] >= 0x80 || data[i] <= ' ') && space_len(data + i, end))
            break;
        i++;
    }
    *we = i;
    *at = i;
    return 1;
}

/* The code point at p and its length in bytes (arrow strings are valid UTF-8; a
   sequence cut short by the end is taken as one byte, never read past the end). */
static inline uint32_t decode(const uint8_t *p, const uint8_t *end, int *len)
{
    uint8_t b = p[0];
    int need = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (need > end - p)
        need = 1;
    *len = need;
    switch (need) {
    case 2:
        return ((uint32_t)(b & 0x1F) << 6) | (p[1] & 0x3F);
    case 3:
        return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    case 4:
        return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
               ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    default:
        return b;
    }
}

typedef struct {
    const uint32_t *cps; /* sorted non-ASCII code points that are word characters */
    int64_t n;
} WordChars;

static inline int is_word_char(uint32_t cp, const WordChars *w)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
               cp == '_';
    int64_t lo = 0, hi = w->n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (w->cps[mid] < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < w->n && w->cps[lo] == cp;
}

/* The next tokenizer piece of data[*at:e]: a run of word characters, or one other
   character (the text holds no whitespace: it is one word already). */
static inline int next_piece(const uint8_t *data, int64_t *at, int64_t e, int64_t *ps, int64_t *pe,
                             const WordChars *w)
{
    int64_t i = *at;
    if (i >= e)
        return 0;
    const uint8_t *end = data + e;
    int len;
    uint32_t cp = decode(data + i, end, &len);
    *ps = i;
    i += len;
    if (is_word_char(cp, w)) {
        while (i < e) {
            cp = decode(data + i, end, &len);
            if (!is_word_char(cp, w))
                break;
            i += len;
        }
    }
    *pe = *at = i;
    return 1;
}

/* mode 0: words (next_word; a text without any gives one, ""); mode 1: tokenizer pieces
   of words (next_piece; a text without any gives none). */
static inline int next_token(int mode, const uint8_t *data, int64_t *at, int64_t e, int64_t *ts,
                             int64_t *te, const WordChars *w)
{
    return mode ? next_piece(data, at, e, ts, te, w) : next_word(data, at, e, ts, te);
}

/* The word characters argument: a buffer of sorted uint32 code points, aligned. */
static int get_word_chars(PyObject *obj, Py_buffer *view, WordChars *w)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_SIMPLE) < 0)
        return -1;
    if (view->len % 4 || (uintptr_t)view->buf % 4) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "word characters must be aligned uint32 code points");
        return -1;
    }
    w->cps = view->buf;
    w->n = view->len / 4;
    return 0;
}

/* The table's distinct keys (in its arena, in order of number) as arrow large_string
   buffers: offsets (int64) and data. Both NULL, with the error set, when out of memory. */
static int arena_strings(const Table *t, PyObject **offsets, PyObject **data)
{
    *offsets = PyByteArray_FromStringAndSize(NULL, 8 * (t->count + 1));
    *data = to_bytearray(t->arena, t->arena_used);
    if (!*offsets || !*data) {
        Py_CLEAR(*offsets);
        Py_CLEAR(*data);
        return -1;
    }
    int64_t *at = (int64_t *)PyByteArray_AS_STRING(*offsets);
    memcpy(at, t->starts, sizeof(int64_t) * t->count);
    at[t->count] = t->arena_used;
    return 0;
}

static PyObject *split_encode(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *offsets_obj, *data_obj, *chars_obj = NULL;
    int width, mode = 0;
    if (!PyArg_ParseTuple(args, "OiO|iO", &offsets_obj, &width, &data_obj, &mode, &chars_obj))
        return NULL;
    if (mode != 0 && mode != 1) {
        PyErr_SetString(PyExc_ValueError, "mode must be 0 (words) or 1 (pieces)");
        return NULL;
    }
    Py_buffer cb = {0};
    WordChars w = {NULL, 0};
    if (mode == 1 && !chars_obj) {
        PyErr_SetString(PyExc_ValueError, "mode 1 needs the word characters");
        return NULL;
    }
    if (mode == 1 && get_word_chars(chars_obj, &cb, &w) < 0)
        return NULL;
    Py_buffer ob, db;
    int64_t n;
    if (get_buffers(offsets_obj, width, data_obj, &ob, &db, &n) < 0) {
        if (mode == 1)
            PyBuffer_Release(&cb);
        return NULL;
    }
    const uint8_t *data = db.buf;
    PyObject *result = NULL, *text_offsets = NULL, *ids = NULL;
    Table t = {0};
    int bad_offsets = 0, failed = 0;
    int empty_one = mode == 0;
    /* One pass. The ids go into an array as large as they could ever need (a word takes
       at least one byte and one separator, a piece one byte): pages never written cost no
       memory, and the array is cut to size after. (get_buffers checked the first and last
       offsets; each text's are checked as it is read.) */
    int64_t bytes = offset_at(ob.buf, width, n) - offset_at(ob.buf, width, 0);
    if (bytes < 0) {
        PyErr_SetString(PyExc_ValueError, "offsets point outside the data");
        goto done;
    }
    text_offsets = PyByteArray_FromStringAndSize(NULL, 8 * (n + 1));
    int64_t capacity = mode ? bytes : bytes / 2 + n + 1;
    ids = PyByteArray_FromStringAndSize(NULL, 4 * capacity);
    if (!text_offsets || !ids)
        goto done;
    int64_t *to = (int64_t *)PyByteArray_AS_STRING(text_offsets);
    int32_t *id = (int32_t *)PyByteArray_AS_STRING(ids);
    to[0] = 0;
    if (table_init(&t, 1 << 16, 1) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    /* Words are looked up BATCH at a time: hashed and their table lines prefetched
       first, so the memory waits of a batch overlap. Their ids go out in order. */
    enum { BATCH = 32 };
    int64_t starts[BATCH], lens[BATCH];
    uint64_t hashes[BATCH];
    int nb = 0;
    int64_t pos = 0;
    int64_t words = 0; /* words found so far (their ids may still wait in the batch) */
    Py_BEGIN_ALLOW_THREADS;
    for (int64_t i = 0; i <= n && !failed && !bad_offsets; i++) {
        int last = i == n;
        int64_t s = last ? 0 : offset_at(ob.buf, width, i);
        int64_t e = last ? 0 : offset_at(ob.buf, width, i + 1);
        if (s < 0 || s > e || e > db.len) {
            bad_offsets = 1;
            break;
        }
        int64_t ws, we, at = s, found = 0;
        for (;;) {
            int more = !last && next_token(mode, data, &at, e, &ws, &we, &w);
            if (!more && !last && !found && empty_one) { /* no word: one empty one */
                ws = we = e;
                more = 1;
                last = -1; /* the text is done after this one */
            }
            if (more) {
                found = 1;
                words++;
                starts[nb] = ws;
                lens[nb] = we - ws;
                hashes[nb] = hash_bytes(data + ws, we - ws);
                table_prefetch(&t, hashes[nb]);
                nb++;
            }
            if (nb == BATCH || (!more && i == n && nb)) {
                for (int j = 0; j < nb; j++) {
                    int64_t k = table_find_hashed(&t, data, starts[j], lens[j], hashes[j]);
                    if (k < 0 || pos >= capacity) { /* (the bound always holds) */
                        failed = 1;
                        break;
                    }
                    id[pos++] = (int32_t)k;
                }
                nb = 0;
            }
            if (!more || last == -1)
                break;
        }
        if (i < n)
            to[i + 1] = words;
    }
    Py_END_ALLOW_THREADS;
    if (bad_offsets) {
        PyErr_SetString(PyExc_ValueError, "offsets point outside the data");
        goto done;
    }
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    if (PyByteArray_Resize(ids, 4 * pos) < 0)
        goto done;
    PyObject *word_offsets, *word_data;
    if (arena_strings(&t, &word_offsets, &word_data) == 0) {
        result = Py_BuildValue("(OOOO)", ids, text_offsets, word_offsets, word_data);
        Py_DECREF(word_offsets);
        Py_DECREF(word_data);
    }
done:
    table_free(&t);
    Py_XDECREF(ids);
    Py_XDECREF(text_offsets);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    if (mode == 1)
        PyBuffer_Release(&cb);
    return result;
}

static PyObject *strip_encode(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *offsets_obj, *data_obj, *chars_obj;
    int width;
    if (!PyArg_ParseTuple(args, "OiOO", &offsets_obj, &width, &data_obj, &chars_obj))
        return NULL;
    Py_buffer cb;
    WordChars w;
    if (get_word_chars(chars_obj, &cb, &w) < 0)
        return NULL;
    Py_buffer ob, db;
    int64_t n;
    if (get_buffers(offsets_obj, width, data_obj, &ob, &db, &n) < 0) {
        PyBuffer_Release(&cb);
        return NULL;
    }
    PyObject *result = NULL, *codes_obj = PyByteArray_FromStringAndSize(NULL, 4 * n);
    Table t = {0};
    uint8_t *scratch = NULL;
    int64_t scratch_size = 0;
    int failed = 0, bad_offsets = 0;
    if (!codes_obj)
        goto done;
    int32_t *codes = (int32_t *)PyByteArray_AS_STRING(codes_obj);
    if (table_init(&t, 1 << 16, 1) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    const uint8_t *data = db.buf;
    Py_BEGIN_ALLOW_THREADS;
    for (int64_t i = 0; i < n; i++) {
        int64_t s = offset_at(ob.buf, width, i), e = offset_at(ob.buf, width, i + 1);
        if (s < 0 || s > e || e > db.len) {
            bad_offsets = 1;
            break;
        }
        if (e - s > scratch_size) {
            int64_t size = scratch_size ? scratch_size : 256;
            while (size < e - s)
                size *= 2;
            uint8_t *grown = realloc(scratch, (size_t)size);
            if (!grown) {
                failed = 1;
                break;
            }
            scratch = grown;
            scratch_size = size;
        }
        int64_t kept = 0, at = s;
        const uint8_t *end = data + e;
        while (at < e) {
            int len;
            uint32_t cp = decode(data + at, end, &len);
            if (is_word_char(cp, &w)) {
                memcpy(scratch + kept, data + at, (size_t)len);
                kept += len;
            }
            at += len;
        }
        int64_t k = table_find(&t, scratch ? scratch : data, 0, kept);
        if (k < 0) {
            failed = 1;
            break;
        }
        codes[i] = (int32_t)k;
    }
    Py_END_ALLOW_THREADS;
    if (bad_offsets) {
        PyErr_SetString(PyExc_ValueError, "offsets point outside the data");
        goto done;
    }
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *word_offsets, *word_data;
    if (arena_strings(&t, &word_offsets, &word_data) == 0) {
        result = Py_BuildValue("(OOO)", codes_obj, word_offsets, word_data);
        Py_DECREF(word_offsets);
        Py_DECREF(word_data);
    }
done:
    free(scratch);
    table_free(&t);
    Py_XDECREF(codes_obj);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    PyBuffer_Release(&cb);
    return result;
}

/* codepoints(offsets, width, data, marks, collect): with collect 0, set marks[cp] = 1 for
   every non-ASCII code point of the texts and return None; with collect 1, return
   (code points uint32, text index int64) of every occurrence whose marks[cp] is set, in
   text order. marks: 0x110000 bytes. */
static PyObject *codepoints(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *offsets_obj, *data_obj, *marks_obj;
    int width, collect;
    if (!PyArg_ParseTuple(args, "OiOOi", &offsets_obj, &width, &data_obj, &marks_obj, &collect))
        return NULL;
    Py_buffer ob, db, mb;
    int64_t n;
    if (get_buffers(offsets_obj, width, data_obj, &ob, &db, &n) < 0)
        return NULL;
    if (PyObject_GetBuffer(marks_obj, &mb, collect ? PyBUF_SIMPLE : PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&ob);
        PyBuffer_Release(&db);
        return NULL;
    }
    PyObject *result = NULL;
    uint32_t *cps = NULL;
    int64_t *owners = NULL;
    int64_t found = 0, capacity = 0;
    int bad_offsets = 0, failed = 0;
    if (mb.len != 0x110000) {
        PyErr_SetString(PyExc_ValueError, "marks must hold 0x110000 bytes");
        goto done;
    }
    uint8_t *marks = mb.buf;
    const uint8_t *data = db.buf;
    Py_BEGIN_ALLOW_THREADS;
    for (int64_t i = 0; i < n && !failed; i++) {
        int64_t s = offset_at(ob.buf, width, i), e = offset_at(ob.buf, width, i + 1);
        if (s < 0 || s > e || e > db.len) {
            bad_offsets = 1;
            break;
        }
        const uint8_t *end = data + e;
        int64_t at = s;
        while (at < e) {
            if (data[at] < 0x80) {
                at++;
                continue;
            }
            int len;
            uint32_t cp = decode(data + at, end, &len);
            at += len;
            if (cp >= 0x110000)
                continue;
            if (!collect) {
                marks[cp] = 1;
            } else if (marks[cp]) {
                if (found == capacity) {
                    int64_t grown_to = capacity ? capacity * 2 : 1024;
                    uint32_t *c = realloc(cps, sizeof(uint32_t) * grown_to);
                    if (c)
                        cps = c;
                    int64_t *o = realloc(owners, sizeof(int64_t) * grown_to);
                    if (o)
                        owners = o;
                    if (!c || !o) {
                        failed = 1;
                        break;
                    }
                    capacity = grown_to;
                }
                cps[found] = cp;
                owners[found] = i;
                found++;
            }
        }
    }
    Py_END_ALLOW_THREADS;
    if (bad_offsets)
        PyErr_SetString(PyExc_ValueError, "offsets point outside the data");
    else if (failed)
        PyErr_NoMemory();
    else if (!collect)
        result = Py_NewRef(Py_None);
    else {
        PyObject *c = to_bytearray(cps, sizeof(uint32_t) * found);
        PyObject *o = to_bytearray(owners, sizeof(int64_t) * found);
        if (c && o)
            result = Py_BuildValue("(OO)", c, o);
        Py_XDECREF(c);
        Py_XDECREF(o);
    }
done:
    free(cps);
    free(owners);
    PyBuffer_Release(&mb);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    return result;
}

static PyObject *group_spans(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *offsets_obj, *data_obj, *codes_obj;
    int width;
    if (!PyArg_ParseTuple(args, "OiOO", &offsets_obj, &width, &data_obj, &codes_obj))
        return NULL;
    Py_buffer ob, db, cb;
    int64_t n;
    if (get_buffers(offsets_obj, width, data_obj, &ob, &db, &n) < 0)
        return NULL;
    if (PyObject_GetBuffer(codes_obj, &cb, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&ob);
        PyBuffer_Release(&db);
        return NULL;
    }
    PyObject *result = NULL;
    if (cb.len != 4 * n || (uintptr_t)cb.buf % 4) {
        PyErr_SetString(PyExc_ValueError, "codes must hold one aligned int32 per span");
        goto done;
    }
    Table t = {0};
    if (table_init(&t, n, 0) < 0) {
        table_free(&t);
        PyErr_NoMemory();
        goto done;
    }
    int failed = 0, bad_offsets = 0;
    int32_t *codes = cb.buf;
    Py_BEGIN_ALLOW_THREADS;
    /* Hashed and prefetched ahead, as in split_encode; each span's bounds are read once
       and checked (s >= 0 too: the offsets are the caller's, not re-read after the check). */
    enum { BATCH = 16 };
    uint64_t hashes[BATCH];
    int64_t starts[BATCH], ends[BATCH];
    for (int64_t i0 = 0; i0 < n && !failed && !bad_offsets; i0 += BATCH) {
        int64_t stop = i0 + BATCH < n ? i0 + BATCH : n;
        for (int64_t i = i0; i < stop; i++) {
            int64_t s = offset_at(ob.buf, width, i), e = offset_at(ob.buf, width, i + 1);
            if (s < 0 || s > e || e > db.len) {
                bad_offsets = 1;
                break;
            }
            starts[i - i0] = s;
            ends[i - i0] = e;
            hashes[i - i0] = hash_bytes((const uint8_t *)db.buf + s, e - s);
            table_prefetch(&t, hashes[i - i0]);
        }
        for (int64_t i = i0; i < stop && !bad_offsets; i++) {
            int64_t s = starts[i - i0], e = ends[i - i0];
            int64_t k = table_find_hashed(&t, db.buf, s, e - s, hashes[i - i0]);
            if (k < 0) {
                failed = 1;
                break;
            }
            codes[i] = (int32_t)k;
        }
    }
    Py_END_ALLOW_THREADS;
    if (bad_offsets)
        PyErr_SetString(PyExc_ValueError, "offsets point outside the data");
    else if (failed)
        PyErr_NoMemory();
    else
        result = PyLong_FromLongLong(t.count);
    table_free(&t);
done:
    PyBuffer_Release(&cb);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    return result;
}

/* Whether data[s:e] holds what the corrupted-text scan's first regex matches (corrupted.py
   _CANDIDATE): U+FFFD, a C0 control other than tab, LF and CR, DEL or a C1 control, 'Ã' or
   'Â', "â€", "ï»¿", '&' before '#' or an ASCII letter, or '#', digits, ';'. */
static uint8_t candidate_start[256]; /* bytes that may begin a match: filled at import */

static void fill_candidate_start(void)
{
    for (int b = 0; b < 0x20; b++)
        candidate_start[b] = b != 0x09 && b != 0x0A && b != 0x0D;
    candidate_start[0x7F] = candidate_start['&'] = candidate_start['#'] = 1;
    candidate_start[0xC2] = candidate_start[0xC3] = candidate_start[0xEF] = 1;
}

static inline int is_candidate(const uint8_t *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (!candidate_start[b])
            continue;
        if (b < 0x20) {
            if (b != 0x09 && b != 0x0A && b != 0x0D)
                return 1;
        } else if (b == 0x7F) {
            return 1;
        } else if (b == '&') {
            if (i + 1 < n && (p[i + 1] == '#' || ((p[i + 1] | 0x20) >= 'a' && (p[i + 1] | 0x20) <= 'z')))
                return 1;
        } else if (b == '#') {
            int64_t j = i + 1;
            while (j < n && p[j] >= '0' && p[j] <= '9')
                j++;
            if (j > i + 1 && j < n && p[j] == ';')
                return 1;
        } else if (b == 0xC2) {
            if (i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
                return 1;
        } else if (b == 0xC3 && i + 1 < n) {
            uint8_t c = p[i + 1];
            if (c == 0x82 || c == 0x83)
                return 1;
            if (c == 0xA2 && i + 4 < n && p[i + 2] == 0xE2 && p[i + 3] == 0x82 && p[i + 4] == 0xAC)
                return 1;
            if (c == 0xAF && i + 5 < n && p[i + 2] == 0xC2 && p[i + 3] == 0xBB && p[i + 4] == 0xC2 &&
                p[i + 5] == 0xBF)
                return 1;
        } else if (b == 0xEF) {
            if (i + 2 < n && p[i + 1] == 0xBF && p[i + 2] == 0xBD)
                return 1;
        }
    }
    return 0;
}

static PyObject *candidates(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *offsets_obj, *data_obj, *out_obj;
    int width;
    if (!PyArg_ParseTuple(args, "OiOO", &offsets_obj, &width, &data_obj, &out_obj))
        return NULL;
    Py_buffer ob, db, out;
    int64_t n;
    if (get_buffers(offsets_obj, width, data_obj, &ob, &db, &n) < 0)
        return NULL;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&ob);
        PyBuffer_Release(&db);
        return NULL;
    }
    PyObject *result = NULL;
    int bad_offsets = 0;
    int64_t found = 0;
    if (out.len != n) {
        PyErr_SetString(PyExc_ValueError, "out must hold one byte per text");
        goto done;
    }
    uint8_t *flags = out.buf;
    const uint8_t *data = db.buf;
    Py_BEGIN_ALLOW_THREADS;
    for (int64_t i = 0; i < n; i++) {
        int64_t s = offset_at(ob.buf, width, i), e = offset_at(ob.buf, width, i + 1);
        if (s < 0 || s > e || e > db.len) {
            bad_offsets = 1;
            break;
        }
        flags[i] = (uint8_t)is_candidate(data + s, e - s);
        found += flags[i];
    }
    Py_END_ALLOW_THREADS;
    if (bad_offsets)
        PyErr_SetString(PyExc_ValueError, "offsets point outside the data");
    else
        result = PyLong_FromLongLong(found);
done:
    PyBuffer_Release(&out);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&db);
    return result;
}

static PyMethodDef methods[] = {
    {"split_encode", split_encode, METH_VARARGS,
     "split_encode(offsets, width, data, mode=0, word_chars=None) -> "
     "(ids, text_offsets, word_offsets, word_data)"},
    {"group_spans", group_spans, METH_VARARGS,
     "group_spans(offsets, width, data, codes) -> number of distinct spans"},
    {"strip_encode", strip_encode, METH_VARARGS,
     "strip_encode(offsets, width, data, word_chars) -> (codes, word_offsets, word_data)"},
    {"codepoints", codepoints, METH_VARARGS,
     "codepoints(offsets, width, data, marks, collect) -> None or (code points, texts)"},
    {"candidates", candidates, METH_VARARGS,
     "candidates(offsets, width, data, out) -> texts the corrupted-text scan must read"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_textscan",
                                    "Word splitting and grouping over arrow string buffers.",
                                    -1, methods};

PyMODINIT_FUNC PyInit__textscan(void)
{
    fill_candidate_start();
    return PyModule_Create(&module);
}
