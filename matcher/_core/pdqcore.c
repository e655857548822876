/*
 * matcher._pdqcore: hot loops for matcher.pdq_index (optional; numpy fallback exists).
 *
 * Exact Hamming search over 256-bit hashes stored as little-endian uint64[4] rows.
 * Uses only the CPython buffer protocol (no numpy headers needed to build).
 *
 *   build_chunk(words, lo, width, offsets_out, rows_out) -> None
 *       CSR table of one chunk (bits [lo, lo+width)): counting sort of the rows.
 *   brute_search(words, alive_or_None, queries, radius) -> (lims, rows, dists)
 *   merge_chunk(tail_words, lo, width, first, offsets, rows, offsets_out, rows_out) -> None
 *       the table over rows [0, first + len(tail)) from the one over [0, first).
 *   mih_search(words, alive, probes, queries, radius) -> (lims, rows, dists)
 *       probes: list of (lo, width, offsets, rows, masks); every bucket
 *       chunk(query) ^ mask is probed and the candidates verified.
 *
 * Results are bytes objects: lims int64[q+1], rows uint32[], dists uint16[];
 * per query sorted by (distance, row) without duplicates.  The GIL is released
 * while searching.  Not thread-safe with respect to concurrent mutation of the
 * passed arrays (the Python layer never does that).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && defined(__linux__) && \
    !defined(PDQCORE_NO_CLONES)
#define HOT __attribute__((target_clones("popcnt", "default")))
#else
#define HOT
#endif

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 1)
#else
#define PREFETCH(p) ((void)0)
#endif

#define POP64(x) ((uint32_t)__builtin_popcountll(x))

typedef struct {
    uint64_t *data;
    size_t n, cap;
} vec64;

static int vec_push(vec64 *v, uint64_t x) {
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        uint64_t *d = (uint64_t *)realloc(v->data, cap * sizeof(uint64_t));
        if (!d) return -1;
        v->data = d;
        v->cap = cap;
    }
    v->data[v->n++] = x;
    return 0;
}

static int vec_reserve(vec64 *v, size_t extra) {
    if (v->n + extra <= v->cap) return 0;
    size_t cap = v->cap ? v->cap : 64;
    while (cap < v->n + extra) cap *= 2;
    uint64_t *d = (uint64_t *)realloc(v->data, cap * sizeof(uint64_t));
    if (!d) return -1;
    v->data = d;
    v->cap = cap;
    return 0;
}

static inline uint32_t chunk_of(const uint64_t *w, int lo, int width) {
    int j = lo >> 6, off = lo & 63;
    uint64_t v = w[j] >> off;
    if (off + width > 64) v |= w[j + 1] << (64 - off);
    return (uint32_t)(v & ((width >= 64) ? ~0ULL : ((1ULL << width) - 1)));
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ buffers */

static int get_buf(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t itemsize,
                   const char *what) {
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (itemsize && view->len % itemsize != 0) {
        PyErr_Format(PyExc_ValueError, "%s: buffer length not a multiple of %zd", what, itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *make_result(const int64_t *lims, Py_ssize_t nq, const uint64_t *keys,
                             size_t nkeys) {
    PyObject *l = PyBytes_FromStringAndSize((const char *)lims, (nq + 1) * (Py_ssize_t)sizeof(int64_t));
    PyObject *r = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(nkeys * sizeof(uint32_t)));
    PyObject *d = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(nkeys * sizeof(uint16_t)));
    if (!l || !r || !d) {
        Py_XDECREF(l);
        Py_XDECREF(r);
        Py_XDECREF(d);
        return NULL;
    }
    uint32_t *rp = (uint32_t *)PyBytes_AS_STRING(r);
    uint16_t *dp = (uint16_t *)PyBytes_AS_STRING(d);
    for (size_t i = 0; i < nkeys; i++) {
        rp[i] = (uint32_t)keys[i];
        dp[i] = (uint16_t)(keys[i] >> 32);
    }
    return Py_BuildValue("(NNN)", l, r, d);
}

/* -------------------------------------------------------------- build_chunk */

HOT static void build_chunk_impl(const uint64_t *words, size_t n, int lo, int width,
                                 uint32_t *off, uint32_t *rows) {
    size_t nb = (size_t)1 << width;
    memset(off, 0, (nb + 1) * sizeof(uint32_t));
    for (size_t i = 0; i < n; i++) off[chunk_of(words + 4 * i, lo, width) + 1]++;
    for (size_t b = 0; b < nb; b++) off[b + 1] += off[b];
    /* scatter; off[v] advances to the original off[v+1] */
    for (size_t i = 0; i < n; i++) rows[off[chunk_of(words + 4 * i, lo, width)]++] = (uint32_t)i;
    memmove(off + 1, off, nb * sizeof(uint32_t));
    off[0] = 0;
}

static PyObject *py_build_chunk(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ow, *oo, *orows;
    int lo, width;
    if (!PyArg_ParseTuple(args, "OiiOO", &ow, &lo, &width, &oo, &orows)) return NULL;
    if (width < 1 || width > 30 || lo < 0 || lo + width > 256) {
        PyErr_SetString(PyExc_ValueError, "bad chunk");
        return NULL;
    }
    Py_buffer w, o, r;
    if (get_buf(ow, &w, 0, 32, "words") < 0) return NULL;
    if (get_buf(oo, &o, 1, 4, "offsets") < 0) { PyBuffer_Release(&w); return NULL; }
    if (get_buf(orows, &r, 1, 4, "rows") < 0) { PyBuffer_Release(&w); PyBuffer_Release(&o); return NULL; }
    size_t n = (size_t)w.len / 32;
    PyObject *ret = NULL;
    if ((size_t)o.len / 4 != ((size_t)1 << width) + 1 || (size_t)r.len / 4 != n || n >= 0xFFFFFFFFu) {
        PyErr_SetString(PyExc_ValueError, "build_chunk: size mismatch");
    } else {
        Py_BEGIN_ALLOW_THREADS
        build_chunk_impl((const uint64_t *)w.buf, n, lo, width, (uint32_t *)o.buf, (uint32_t *)r.buf);
        Py_END_ALLOW_THREADS
        ret = Py_None;
        Py_INCREF(ret);
    }
    PyBuffer_Release(&w);
    PyBuffer_Release(&o);
    PyBuffer_Release(&r);
    return ret;
}

/* ------------------------------------------------------------- brute_search */

#define ROW_BLOCK 4096

/* Scan rows [r0, r1) for one query; append (dist << 32 | row) keys. */
HOT static int scan_block(const uint64_t *words, const uint8_t *alive, size_t r0, size_t r1,
                          const uint64_t *q, uint32_t radius, vec64 *out) {
    uint64_t q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
    for (size_t i = r0; i < r1; i++) {
        const uint64_t *w = words + 4 * i;
        uint32_t d = POP64(w[0] ^ q0) + POP64(w[1] ^ q1) + POP64(w[2] ^ q2) + POP64(w[3] ^ q3);
        if (d <= radius && (!alive || alive[i])) {
            if (vec_push(out, ((uint64_t)d << 32) | (uint64_t)i) < 0) return -1;
        }
    }
    return 0;
}

/* Stable counting sort by distance (keys arrive in ascending row order). */
static int sort_by_dist(uint64_t *keys, size_t n) {
    if (n < 2) return 0;
    if (n < 64) {
        qsort(keys, n, sizeof(uint64_t), cmp_u64);
        return 0;
    }
    size_t cnt[258] = {0};
    for (size_t i = 0; i < n; i++) cnt[(keys[i] >> 32) + 1]++;
    for (int b = 0; b < 257; b++) cnt[b + 1] += cnt[b];
    uint64_t *tmp = (uint64_t *)malloc(n * sizeof(uint64_t));
    if (!tmp) return -1;
    for (size_t i = 0; i < n; i++) tmp[cnt[keys[i] >> 32]++] = keys[i];
    memcpy(keys, tmp, n * sizeof(uint64_t));
    free(tmp);
    return 0;
}

static PyObject *py_brute_search(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ow, *oa, *oq;
    int radius;
    if (!PyArg_ParseTuple(args, "OOOi", &ow, &oa, &oq, &radius)) return NULL;
    Py_buffer w, a, q;
    int have_alive = (oa != Py_None);
    if (get_buf(ow, &w, 0, 32, "words") < 0) return NULL;
    if (have_alive && get_buf(oa, &a, 0, 1, "alive") < 0) { PyBuffer_Release(&w); return NULL; }
    if (get_buf(oq, &q, 0, 32, "queries") < 0) {
        PyBuffer_Release(&w);
        if (have_alive) PyBuffer_Release(&a);
        return NULL;
    }
    size_t n = (size_t)w.len / 32, nq = (size_t)q.len / 32;
    PyObject *ret = NULL;
    vec64 *per = NULL;
    int64_t *lims = NULL;
    vec64 all = {0};
    int err = 0;
    if (have_alive && (size_t)a.len != n) {
        PyErr_SetString(PyExc_ValueError, "brute_search: alive length mismatch");
        goto done;
    }
    per = (vec64 *)calloc(nq ? nq : 1, sizeof(vec64));
    lims = (int64_t *)calloc(nq + 1, sizeof(int64_t));
    if (!per || !lims) { PyErr_NoMemory(); goto done; }
    Py_BEGIN_ALLOW_THREADS
    const uint64_t *W = (const uint64_t *)w.buf, *Q = (const uint64_t *)q.buf;
    const uint8_t *A = have_alive ? (const uint8_t *)a.buf : NULL;
    uint32_t rad = radius < 0 ? 0 : (uint32_t)radius;
    for (size_t r0 = 0; r0 < n && !err; r0 += ROW_BLOCK) {
        size_t r1 = r0 + ROW_BLOCK < n ? r0 + ROW_BLOCK : n;
        for (size_t j = 0; j < nq && !err; j++)
            if (scan_block(W, A, r0, r1, Q + 4 * j, rad, &per[j]) < 0) err = 1;
    }
    size_t total = 0;
    for (size_t j = 0; j < nq && !err; j++) {
        if (sort_by_dist(per[j].data, per[j].n) < 0) err = 1;
        total += per[j].n;
        lims[j + 1] = (int64_t)total;
    }
    if (!err && vec_reserve(&all, total ? total : 1) < 0) err = 1;
    for (size_t j = 0; j < nq && !err; j++) {
        if (per[j].n) memcpy(all.data + all.n, per[j].data, per[j].n * sizeof(uint64_t));
        all.n += per[j].n;
    }
    Py_END_ALLOW_THREADS
    if (err) { PyErr_NoMemory(); goto done; }
    if (radius < 0) { all.n = 0; memset(lims, 0, (nq + 1) * sizeof(int64_t)); }
    ret = make_result(lims, (Py_ssize_t)nq, all.data, all.n);
done:
    if (per) {
        for (size_t j = 0; j < nq; j++) free(per[j].data);
        free(per);
    }
    free(lims);
    free(all.data);
    PyBuffer_Release(&w);
    if (have_alive) PyBuffer_Release(&a);
    PyBuffer_Release(&q);
    return ret;
}

/* --------------------------------------------------------------- mih_search */

typedef struct {
    int lo, width;
    const uint32_t *off, *rows, *masks;
    size_t nmasks;
} probe_t;

/* Prefetch distances (in buckets, buckets and candidates).  Every offsets line, rows line
 * and candidate row is a random DRAM access: a query at N = 10M touches some 2,000 buckets
 * and 7,000 candidates, so throughput is set by how many misses are in flight.  The lookahead
 * must cover the memory latency (~170-190 ns measured on the benchmark machine) at ~10 ns per
 * access; the short distances used before (16/8/12) left about a third of it on the table. */
#define PF_OFF 48
#define PF_ROW 16
#define PF_WORD 64

/* Copy bucket h's rows (st[h], en[h]) to cand. */
static inline int copy_bucket(vec64 *cand, const uint32_t *rows, uint32_t s, uint32_t e) {
    if (e > s) {
        if (vec_reserve(cand, e - s) < 0) return -1;
        uint64_t *out = cand->data + cand->n;
        for (uint32_t j = s; j < e; j++) *out++ = rows[j];
        cand->n += e - s;
    }
    return 0;
}

/* Gather all candidate rows of one query into cand (may contain duplicates).
 *
 * One software-pipelined pass per chunk: bucket i's offsets are prefetched PF_OFF steps
 * ahead, read at step i (and its rows line prefetched), and its rows copied PF_ROW steps
 * later, so offsets and rows misses overlap instead of running as two separate passes. */
HOT static int gather_candidates(const probe_t *pr, int np_, const uint64_t *q, vec64 *cand,
                                 uint32_t *bk, size_t bk_cap) {
    cand->n = 0;
    for (int c = 0; c < np_; c++) {
        const probe_t *p = &pr[c];
        uint32_t v = chunk_of(q, p->lo, p->width);
        const uint32_t *off = p->off, *rows = p->rows, *masks = p->masks;
        size_t nm = p->nmasks;
        for (size_t m0 = 0; m0 < nm; m0 += bk_cap) {
            size_t m1 = m0 + bk_cap < nm ? m0 + bk_cap : nm, k = m1 - m0;
            const uint32_t *mk = masks + m0;
            uint32_t *st = bk, *en = bk + bk_cap;
            size_t lead = PF_OFF < k ? PF_OFF : k;
            for (size_t i = 0; i < lead; i++) PREFETCH(off + (v ^ mk[i]));
            for (size_t i = 0; i < k; i++) {
                if (i + PF_OFF < k) PREFETCH(off + (v ^ mk[i + PF_OFF]));
                uint32_t b = v ^ mk[i];
                st[i] = off[b];
                en[i] = off[b + 1];
                PREFETCH(rows + st[i]);
                if (i >= PF_ROW && copy_bucket(cand, rows, st[i - PF_ROW], en[i - PF_ROW]) < 0)
                    return -1;
            }
            for (size_t h = k > PF_ROW ? k - PF_ROW : 0; h < k; h++)
                if (copy_bucket(cand, rows, st[h], en[h]) < 0) return -1;
        }
    }
    return 0;
}

HOT static int verify_candidates(const uint64_t *W, const uint8_t *A, const vec64 *cand,
                                 const uint64_t *q, uint32_t radius, vec64 *out) {
    uint64_t q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
    const uint64_t *c = cand->data;
    size_t n = cand->n, start = out->n;
    for (size_t i = 0; i < n; i++) {
        if (i + PF_WORD < n) PREFETCH(W + 4 * c[i + PF_WORD]);
        const uint64_t *w = W + 4 * c[i];
        uint32_t d = POP64(w[0] ^ q0) + POP64(w[1] ^ q1) + POP64(w[2] ^ q2) + POP64(w[3] ^ q3);
        if (d <= radius && A[c[i]]) {
            if (vec_push(out, ((uint64_t)d << 32) | c[i]) < 0) return -1;
        }
    }
    /* sort this query's matches by (dist, row) and drop duplicates */
    size_t m = out->n - start;
    uint64_t *k = out->data + start;
    if (m > 1) {
        qsort(k, m, sizeof(uint64_t), cmp_u64);
        size_t u = 1;
        for (size_t i = 1; i < m; i++)
            if (k[i] != k[u - 1]) k[u++] = k[i];
        out->n = start + u;
    }
    return 0;
}

#define MAX_PROBES 64
#define BK_CAP 4096

static PyObject *py_mih_search(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ow, *oa, *oprobes, *oq;
    int radius;
    if (!PyArg_ParseTuple(args, "OOO!Oi", &ow, &oa, &PyList_Type, &oprobes, &oq, &radius))
        return NULL;
    Py_ssize_t np_ = PyList_GET_SIZE(oprobes);
    if (np_ > MAX_PROBES) {
        PyErr_SetString(PyExc_ValueError, "too many probes");
        return NULL;
    }
    Py_buffer w, a, q, bufs[MAX_PROBES][3];
    probe_t pr[MAX_PROBES];
    int nb = 0; /* probes whose buffers are held */
    PyObject *ret = NULL;
    int64_t *lims = NULL;
    uint32_t *bk = NULL;
    vec64 cand = {0}, out = {0};
    int err = 0;
    if (get_buf(ow, &w, 0, 32, "words") < 0) return NULL;
    if (get_buf(oa, &a, 0, 1, "alive") < 0) { PyBuffer_Release(&w); return NULL; }
    if (get_buf(oq, &q, 0, 32, "queries") < 0) {
        PyBuffer_Release(&w);
        PyBuffer_Release(&a);
        return NULL;
    }
    size_t n = (size_t)w.len / 32, nq = (size_t)q.len / 32;
    if ((size_t)a.len != n) {
        PyErr_SetString(PyExc_ValueError, "mih_search: alive length mismatch");
        goto done;
    }
    for (Py_ssize_t c = 0; c < np_; c++) {
        PyObject *t = PyList_GET_ITEM(oprobes, c);
        PyObject *oo, *orr, *om;
        int lo, width;
        if (!PyArg_ParseTuple(t, "iiOOO", &lo, &width, &oo, &orr, &om)) goto done;
        if (width < 1 || width > 30 || lo < 0 || lo + width > 256) {
            PyErr_SetString(PyExc_ValueError, "bad chunk");
            goto done;
        }
        if (get_buf(oo, &bufs[c][0], 0, 4, "offsets") < 0) goto done;
        if (get_buf(orr, &bufs[c][1], 0, 4, "rows") < 0) { PyBuffer_Release(&bufs[c][0]); goto done; }
        if (get_buf(om, &bufs[c][2], 0, 4, "masks") < 0) {
            PyBuffer_Release(&bufs[c][0]);
            PyBuffer_Release(&bufs[c][1]);
            goto done;
        }
        nb++;
        pr[c].lo = lo;
        pr[c].width = width;
        pr[c].off = (const uint32_t *)bufs[c][0].buf;
        pr[c].rows = (const uint32_t *)bufs[c][1].buf;
        pr[c].masks = (const uint32_t *)bufs[c][2].buf;
        pr[c].nmasks = (size_t)bufs[c][2].len / 4;
        if ((size_t)bufs[c][0].len / 4 != ((size_t)1 << width) + 1 || (size_t)bufs[c][1].len / 4 > n) {
            PyErr_SetString(PyExc_ValueError, "mih_search: table size mismatch");
            goto done;
        }
        uint32_t lim = (uint32_t)((1ULL << width) - 1);
        for (size_t i = 0; i < pr[c].nmasks; i++)
            if (pr[c].masks[i] > lim) {
                PyErr_SetString(PyExc_ValueError, "mih_search: mask wider than chunk");
                goto done;
            }
        /* a table may cover fewer rows than words holds (mid-fold); its entries are
           trusted to be < its length (built by build_chunk or merged) */
    }
    lims = (int64_t *)calloc(nq + 1, sizeof(int64_t));
    bk = (uint32_t *)malloc(2 * BK_CAP * sizeof(uint32_t));
    if (!lims || !bk) { PyErr_NoMemory(); goto done; }
    if (radius >= 0) {
        Py_BEGIN_ALLOW_THREADS
        const uint64_t *W = (const uint64_t *)w.buf, *Q = (const uint64_t *)q.buf;
        const uint8_t *A = (const uint8_t *)a.buf;
        for (size_t j = 0; j < nq; j++) {
            if (gather_candidates(pr, (int)np_, Q + 4 * j, &cand, bk, BK_CAP) < 0 ||
                verify_candidates(W, A, &cand, Q + 4 * j, (uint32_t)radius, &out) < 0) {
                err = 1;
                break;
            }
            lims[j + 1] = (int64_t)out.n;
        }
        Py_END_ALLOW_THREADS
    }
    if (err) { PyErr_NoMemory(); goto done; }
    ret = make_result(lims, (Py_ssize_t)nq, out.data, out.n);
done:
    for (int c = 0; c < nb; c++)
        for (int k = 0; k < 3; k++) PyBuffer_Release(&bufs[c][k]);
    free(lims);
    free(bk);
    free(cand.data);
    free(out.data);
    PyBuffer_Release(&w);
    PyBuffer_Release(&a);
    PyBuffer_Release(&q);
    return ret;
}

/* -------------------------------------------------------------- merge_chunk */

/* A chunk's CSR table over rows [0, first + t) from its table over [0, first) and the t new
 * rows' words: each bucket's old rows, then its new rows in row order (what build_chunk
 * gives over all rows).  One pass over the old rows, two over the new ones. */
HOT static int merge_chunk_impl(const uint64_t *tail, size_t t, int lo, int width, uint32_t first,
                                const uint32_t *old_off, const uint32_t *old_rows,
                                uint32_t *off, uint32_t *rows) {
    size_t nb = (size_t)1 << width;
    uint32_t *end = (uint32_t *)malloc((nb + 1) * sizeof(uint32_t));
    if (!end) return -1;
    /* end[b + 1]: new rows in bucket b; then, summed, new rows below bucket b + 1 */
    memset(end, 0, (nb + 1) * sizeof(uint32_t));
    for (size_t k = 0; k < t; k++) end[chunk_of(tail + 4 * k, lo, width) + 1]++;
    for (size_t b = 0; b < nb; b++) end[b + 1] += end[b];
    /* Old rows move up by the new rows below their bucket: one copy per run of buckets with
     * no new rows between them (at most t + 1 copies, each of contiguous rows). */
    uint32_t run = 0; /* first old row of the current run */
    for (size_t b = 0; b < nb; b++) {
        off[b] = old_off[b] + end[b];
        if (end[b + 1] != end[b]) {
            uint32_t e = old_off[b + 1];
            memcpy(rows + run + end[b], old_rows + run, (size_t)(e - run) * sizeof(uint32_t));
            run = e;
        }
    }
    off[nb] = old_off[nb] + end[nb];
    memcpy(rows + run + end[nb], old_rows + run, (size_t)(old_off[nb] - run) * sizeof(uint32_t));
    /* New rows fill each bucket's end, last row first, so they land in row order. */
    for (size_t b = 0; b < nb; b++) end[b] = off[b + 1];
    for (size_t k = t; k-- > 0;) rows[--end[chunk_of(tail + 4 * k, lo, width)]] = first + (uint32_t)k;
    free(end);
    return 0;
}

static PyObject *py_merge_chunk(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ow, *ooo, *oor, *oo, *orows;
    int lo, width;
    unsigned long long first;
    if (!PyArg_ParseTuple(args, "OiiKOOOO", &ow, &lo, &width, &first, &ooo, &oor, &oo, &orows))
        return NULL;
    if (width < 1 || width > 30 || lo < 0 || lo + width > 256) {
        PyErr_SetString(PyExc_ValueError, "bad chunk");
        return NULL;
    }
    Py_buffer b[5];
    PyObject *objs[5] = {ow, ooo, oor, oo, orows};
    const Py_ssize_t items[5] = {32, 4, 4, 4, 4};
    const int writable[5] = {0, 0, 0, 1, 1};
    int held = 0;
    PyObject *ret = NULL;
    for (; held < 5; held++)
        if (get_buf(objs[held], &b[held], writable[held], items[held], "merge_chunk") < 0) goto done;
    size_t t = (size_t)b[0].len / 32, nold = (size_t)b[2].len / 4, nb1 = ((size_t)1 << width) + 1;
    if ((size_t)b[1].len / 4 != nb1 || (size_t)b[3].len / 4 != nb1 || nold != first ||
        (size_t)b[4].len / 4 != nold + t || nold + t >= 0xFFFFFFFFu ||
        ((const uint32_t *)b[1].buf)[nb1 - 1] != nold) {
        PyErr_SetString(PyExc_ValueError, "merge_chunk: size mismatch");
        goto done;
    }
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = merge_chunk_impl((const uint64_t *)b[0].buf, t, lo, width, (uint32_t)first,
                           (const uint32_t *)b[1].buf, (const uint32_t *)b[2].buf,
                           (uint32_t *)b[3].buf, (uint32_t *)b[4].buf);
    Py_END_ALLOW_THREADS
    if (err) {
        PyErr_NoMemory();
        goto done;
    }
    ret = Py_None;
    Py_INCREF(ret);
done:
    for (int k = 0; k < held; k++) PyBuffer_Release(&b[k]);
    return ret;
}

static PyMethodDef methods[] = {
    {"build_chunk", py_build_chunk, METH_VARARGS, "Build one chunk's CSR table (counting sort)."},
    {"brute_search", py_brute_search, METH_VARARGS, "Linear-scan range search."},
    {"mih_search", py_mih_search, METH_VARARGS, "Multi-index-hashing range search."},
    {"merge_chunk", py_merge_chunk, METH_VARARGS, "Merge new rows into one chunk's table."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_pdqcore", "Hot loops for matcher.pdq_index.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pdqcore(void) { return PyModule_Create(&moddef); }
