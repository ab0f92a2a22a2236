/* SPDX-License-Identifier: MIT */
/*
 * kv-server: a key-value server speaking RESP2, the Redis protocol.
 *
 *   ./kv-server --port 6380 &
 *   redis-cli -p 6380 set greeting hello
 *   redis-benchmark -p 6380 -t set,get -n 200000 -c 50 -P 16
 *
 * Commands: PING [msg], ECHO msg, SET key value, GET key, DEL key...,
 * EXISTS key..., INCR/DECR key, INCRBY/DECRBY key n, MGET key...,
 * MSET key value..., DBSIZE, FLUSHALL/FLUSHDB, QUIT, COMMAND (an empty
 * array, enough for redis-cli), CONFIG GET (an empty array, enough for
 * redis-benchmark), SELECT 0. Both RESP multibulk requests and inline
 * commands (a text line split on spaces) are understood, and pipelining:
 * every complete request already buffered is answered, the replies going
 * out in one write.
 *
 * How it is built:
 *  - the keyspace is split over shard actors, one per loop; a key lives in
 *    shard (hash(key) % loops) and only that actor touches it, so there are
 *    no locks;
 *  - ax_serve() runs a task per connection on some loop; it parses what it
 *    has, asks the owning shard for each command (ax_ask: a message plus a
 *    future, cross-loop when the key lives elsewhere), and only then awaits
 *    the answers in order. A pipelined batch thus costs one round of
 *    messages, not one round trip per command;
 *  - a command for the shard of the connection's own loop is done by a
 *    direct call on that shard's table instead, as Seastar does for its
 *    local shard: the shard and the connection are tasks of one thread,
 *    and a shard never suspends in the middle of a command, so the table
 *    is in a consistent state whenever the connection runs. An ask costs
 *    two task switches, a message, a future and the reply; the call
 *    costs none of them (callgrind: 3,530 -> ~2,000 instructions per GET
 *    with one loop). Not while an ask of the same batch is on its way
 *    (the commands of a connection are done in order), not with an
 *    append-only file (the shard groups its writes under one fsync), and
 *    not for DEBUG CRASH-SHARD or BGREWRITEAOF, which are the shard's own;
 *  - a command that asked no shard (a direct call, or PING, or an error)
 *    is answered as soon as it is parsed unless one before it in the batch
 *    waits for an answer, and its request goes back to the connection's
 *    spares: a pipelined GET on the own shard mallocs nothing and needs no
 *    second pass over the batch;
 *  - multi-key commands (DEL, EXISTS, MGET, MSET, DBSIZE, FLUSHALL) fan out
 *    one request per shard involved and gather the answers;
 *  - a request (struct req) travels to the shard and comes back as the
 *    reply value: ownership goes there and back with it. GET answers with a
 *    reference-counted entry, so a value is copied once, into the reply;
 *  - one table, commands[], has a row per command: its name, its arity and
 *    what it does on each side (send: check and ask the shards; shard: do
 *    it to the table; reply: answer from what came back).
 *
 * Not Redis: no expiry, no persistence, no transactions, and a command that
 * spans shards (MSET, DEL of several keys) is not atomic across them.
 */
#include "cli.h"
#include "metrics.h"

#include <axon.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PORT 6380
#define MAX_BULK_HARD ((size_t)512 * 1024 * 1024) /* RESP's own limit */
#define MAX_MULTIBULK (1024 * 1024)               /* args per command */
#define MAX_INLINE (64 * 1024)                    /* inline line, headers */
#define MAX_BATCH 1024      /* commands answered per write */
#define RBUF_MIN (16 * 1024)
#define SHARD_MAILBOX 16384

typedef struct config {
    const char *host;
    int port;
    int loops;
    size_t max_bulk;
    size_t output_limit; /* bytes of replies pending per client; 0: none */
    double timeout;      /* idle seconds before a client is closed; 0: never */
    bool debug;          /* DEBUG CRASH-SHARD */
} config;

/* Read-only once the server runs. */
static config cfg = {"127.0.0.1", DEFAULT_PORT, AX_LOOPS_PER_CPU,
                     (size_t)64 * 1024 * 1024, (size_t)256 * 1024 * 1024, 0,
                     false};
/* The shards' current refs: each shard's supervisor restarts it under a
 * new ref, which the start function publishes here (shard_start). */
static _Atomic uint64_t shard_ids[AX_LOOPS_MAX];
static int nshards;

static ax_actor_ref shard_ref(int i)
{
    return (ax_actor_ref){atomic_load_explicit(&shard_ids[i],
                                               memory_order_acquire)};
}

/* ---- keys, entries, the hash table --------------------------------------- */

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t hash_bytes(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (n * 0xff51afd7ed558ccdull), k;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&k, p, 8);
        k *= 0x87c37b91114253d5ull;
        k = rotl64(k, 31) * 0x4cf5ad432745937full;
        h = rotl64(h ^ k, 27) * 5 + 0x52dce729;
    }
    k = 0;
    memcpy(&k, p, n);
    h ^= rotl64(k * 0x87c37b91114253d5ull, 31) * 0x4cf5ad432745937full;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* High bits pick the shard, low bits the bucket. */
static inline int shard_of(uint64_t h)
{
    return (int)(((h >> 32) * (uint64_t)nshards) >> 32);
}

/* A key and its value in one block. The table holds one reference; a GET
 * in flight holds another, so a value survives its overwrite until the
 * reply is written. */
typedef struct entry {
    struct entry *next;
    uint64_t hash;
    atomic_uint refs;
    uint32_t klen, vlen;
    char data[]; /* key, then value */
} entry;

static entry *entry_new(const char *k, size_t klen, uint64_t h,
                        const char *v, size_t vlen)
{
    entry *e = malloc(sizeof *e + klen + vlen);

    if (!e)
        return NULL;
    e->next = NULL;
    e->hash = h;
    atomic_init(&e->refs, 1);
    e->klen = (uint32_t)klen;
    e->vlen = (uint32_t)vlen;
    memcpy(e->data, k, klen);
    if (vlen)
        memcpy(e->data + klen, v, vlen);
    return e;
}

static inline entry *entry_ref(entry *e)
{
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    return e;
}

static inline void entry_unref(entry *e)
{
    if (e && atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        free(e);
}

typedef struct table {
    entry **b;
    size_t mask, n;
} table;

#define TABLE_MIN 1024

static int table_init(table *t)
{
    t->b = calloc(TABLE_MIN, sizeof *t->b);
    t->mask = TABLE_MIN - 1;
    t->n = 0;
    return t->b ? 0 : AX_ENOMEM;
}

static void table_clear(table *t, bool shrink)
{
    for (size_t i = 0; i <= t->mask; i++) {
        entry *e = t->b[i], *next;
        for (; e; e = next) {
            next = e->next;
            entry_unref(e);
        }
        t->b[i] = NULL;
    }
    t->n = 0;
    if (shrink && t->mask + 1 > TABLE_MIN) {
        entry **b = calloc(TABLE_MIN, sizeof *b);
        if (b) {
            free(t->b);
            t->b = b;
            t->mask = TABLE_MIN - 1;
        }
    }
}

/* The link that points at the key's entry, or the NULL link ending its
 * chain. */
static entry **table_find(table *t, const char *k, size_t klen, uint64_t h)
{
    entry **pp = &t->b[h & t->mask], *e;

    for (; (e = *pp); pp = &e->next)
        if (e->hash == h && e->klen == klen && !memcmp(e->data, k, klen))
            break;
    return pp;
}

static void table_grow(table *t)
{
    size_t cap = (t->mask + 1) * 2;
    entry **b = calloc(cap, sizeof *b);

    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i <= t->mask; i++) {
        entry *e = t->b[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (cap - 1)];
            b[e->hash & (cap - 1)] = e;
        }
    }
    free(t->b);
    t->b = b;
    t->mask = cap - 1;
}

/* Insert or replace; the table takes the caller's reference. */
static void table_put(table *t, entry *e)
{
    entry **pp = table_find(t, e->data, e->klen, e->hash), *old = *pp;

    if (old) {
        e->next = old->next;
        *pp = e;
        entry_unref(old);
        return;
    }
    e->next = NULL;
    *pp = e;
    if (++t->n > t->mask + 1)
        table_grow(t);
}

static bool table_del(table *t, const char *k, size_t klen, uint64_t h)
{
    entry **pp = table_find(t, k, klen, h), *e = *pp;

    if (!e)
        return false;
    *pp = e->next;
    entry_unref(e);
    t->n--;
    return true;
}

/* Redis's rule for integers: optional '-', no leading zeros, no spaces. */
static bool parse_ll(const char *s, size_t n, long long *out)
{
    unsigned long long v = 0, lim;
    bool neg = false;
    size_t i = 0;

    if (n == 0 || n > 20)
        return false;
    if (s[0] == '-') {
        neg = true;
        if (++i == n)
            return false;
    }
    if (s[i] == '0' && n - i > 1)
        return false;
    lim = neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
    for (; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg && v == 0 && n > 1)
        return false; /* "-0" */
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
}

/* ---- the append-only file ------------------------------------------------- */

/*
 * --aof FILE: every change is appended to FILE as the RESP command that
 * redoes it (SET k v for SET, MSET and INCR's new value, DEL k for each key
 * deleted, FLUSHALL), and FILE is replayed at start. --appendfsync as in
 * Redis: always (fsync before the reply: an acknowledged write is on disk),
 * everysec (a thread fsyncs once a second: a crash loses up to about a
 * second), no (the kernel decides).
 *
 * Shards write their records themselves, one write(2) per request under
 * aof.mu; under `always` a shard answers a run of requests together after
 * one fsync (group commit). BGREWRITEAOF collects every shard's entries (by
 * reference, on their loops) and a plain thread writes them to FILE.tmp
 * while the shards go on appending to FILE and to aof.diff; at the end the
 * thread adds aof.diff, fsyncs and renames FILE.tmp over FILE, under the
 * lock. Every record sets a key to a value or removes it, so a record that
 * lands both in the snapshot and in the diff replays to the same state.
 */
enum { FSYNC_ALWAYS = 0, FSYNC_EVERYSEC, FSYNC_NO };

/* A piece of a buffer: a command's argument, a record's. */
typedef struct slice {
    const char *p;
    size_t len;
} slice;

static struct {
    pthread_mutex_t mu;
    const char *path; /* NULL: no AOF */
    int mode;         /* FSYNC_* */
    int fd;
    bool dirty;       /* written since the last fsync (everysec) */
    bool rewriting;
    char *diff;       /* records since the rewrite's snapshot began */
    size_t dlen, dcap;
    bool diff_nomem;
    int last_err;     /* errno of the last failed write, logged once */
} aof = {.mu = PTHREAD_MUTEX_INITIALIZER, .mode = FSYNC_EVERYSEC, .fd = -1};

static pthread_t aof_fsyncer, aof_rewriter;
static bool aof_fsyncer_on, aof_rewriter_on;
static atomic_bool aof_stop;

/* A shard's records for the request being done (one shard per loop
 * thread). */
static _Thread_local struct {
    char *p;
    size_t len, cap;
    bool nomem;
} rec;

static void rec_raw(const void *p, size_t n)
{
    if (rec.len + n > rec.cap) {
        size_t cap = rec.cap ? rec.cap : 4096;
        char *q;
        while (cap < rec.len + n)
            cap *= 2;
        if (!(q = realloc(rec.p, cap))) {
            rec.nomem = true;
            return;
        }
        rec.p = q;
        rec.cap = cap;
    }
    memcpy(rec.p + rec.len, p, n);
    rec.len += n;
}

static void rec_head(char type, size_t n)
{
    char tmp[32];
    int k = snprintf(tmp, sizeof tmp, "%c%zu\r\n", type, n);

    rec_raw(tmp, (size_t)k);
}

static void rec_arg(const char *p, size_t n)
{
    rec_head('$', n);
    rec_raw(p, n);
    rec_raw("\r\n", 2);
}

/* "SET key value" for an entry, "DEL key", "FLUSHALL". */
static void rec_set(const entry *e)
{
    if (!aof.path)
        return;
    rec_head('*', 3);
    rec_arg("SET", 3);
    rec_arg(e->data, e->klen);
    rec_arg(e->data + e->klen, e->vlen);
}

static void rec_del(const char *k, size_t n)
{
    if (!aof.path)
        return;
    rec_head('*', 2);
    rec_arg("DEL", 3);
    rec_arg(k, n);
}

static void rec_flush(void)
{
    if (!aof.path)
        return;
    rec_head('*', 1);
    rec_arg("FLUSHALL", 8);
}

/* Append the shard's records of one request. @return 0 or an errno. */
static int aof_append(void)
{
    int err = 0;

    if (!rec.len && !rec.nomem)
        return 0;
    if (rec.nomem) {
        rec.len = 0;
        rec.nomem = false;
        return ENOMEM;
    }
    pthread_mutex_lock(&aof.mu);
    for (size_t off = 0; off < rec.len;) {
        ssize_t w = write(aof.fd, rec.p + off, rec.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = w < 0 ? errno : ENOSPC;
            /* A partial record would be reported as the truncated last
             * record at the next start; cut it off now if we can. */
            if (off) {
                off_t end = lseek(aof.fd, 0, SEEK_END);
                if (end >= (off_t)off && ftruncate(aof.fd, end - (off_t)off))
                    err = err ? err : errno;
            }
            break;
        }
        off += (size_t)w;
    }
    if (!err) {
        aof.dirty = true;
        if (aof.rewriting && !aof.diff_nomem) {
            if (aof.dlen + rec.len > aof.dcap) {
                size_t cap = aof.dcap ? aof.dcap * 2 : 65536;
                char *q;
                while (cap < aof.dlen + rec.len)
                    cap *= 2;
                if ((q = realloc(aof.diff, cap))) {
                    aof.diff = q;
                    aof.dcap = cap;
                } else {
                    aof.diff_nomem = true; /* the rewrite will be dropped */
                }
            }
            if (!aof.diff_nomem) {
                memcpy(aof.diff + aof.dlen, rec.p, rec.len);
                aof.dlen += rec.len;
            }
        }
    }
    if (err && err != aof.last_err)
        fprintf(stderr, "kv-server: %s: write failed: %s (the writes that "
                        "got this error are in memory, not on disk)\n",
                aof.path, strerror(err));
    aof.last_err = err;
    pthread_mutex_unlock(&aof.mu);
    rec.len = 0;
    return err;
}

/* fsync under `always`. @return 0 or an errno. */
static int aof_sync(void)
{
    int err = 0;

    pthread_mutex_lock(&aof.mu);
    if (aof.dirty && fdatasync(aof.fd) != 0) {
        err = errno;
        fprintf(stderr, "kv-server: %s: fsync failed: %s\n", aof.path,
                strerror(err));
    }
    aof.dirty = err != 0;
    pthread_mutex_unlock(&aof.mu);
    return err;
}

/* everysec: a plain thread, so a slow disk never stalls a loop. */
static void *aof_fsync_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&aof_stop)) {
        int fd = -1;
        for (int i = 0; i < 10 && !atomic_load(&aof_stop); i++)
            usleep(100 * 1000);
        pthread_mutex_lock(&aof.mu);
        if (aof.dirty) {
            fd = dup(aof.fd); /* the rewrite may swap aof.fd meanwhile */
            aof.dirty = false;
        }
        pthread_mutex_unlock(&aof.mu);
        if (fd >= 0) {
            if (fdatasync(fd) != 0)
                fprintf(stderr, "kv-server: %s: fsync failed: %s\n",
                        aof.path, strerror(errno));
            close(fd);
        }
    }
    return NULL;
}

/* -- replay -- */

/* One RESP array of bulk strings at p[0..n): its arguments (up to 3 kept)
 * and its length. @return 1 a record, 0 incomplete, -1 malformed. */
static int aof_record(const char *p, size_t n, slice *args, size_t *nargs,
                      size_t *used)
{
    const char *q = p, *end = p + n;
    long long cnt = 0;

    if (q >= end)
        return 0;
    if (*q != '*')
        return -1;
    for (int pass = -1; pass < 0 || (long long)pass < cnt; pass++) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        long long v;
        if (!nl)
            return (size_t)(end - q) > 32 ? -1 : 0;
        if (nl - q < 2 || nl[-1] != '\r' ||
            !parse_ll(q + 1, (size_t)(nl - 1 - q - 1), &v) || v < 0)
            return -1;
        if (pass < 0) {
            if (*q != '*' || v < 1 || v > 3)
                return -1;
            cnt = v;
            q = nl + 1;
            continue;
        }
        if (*q != '$')
            return -1;
        q = nl + 1;
        if ((size_t)(end - q) < (size_t)v + 2)
            return 0;
        if (q[v] != '\r' || q[v + 1] != '\n')
            return -1;
        args[pass] = (slice){q, (size_t)v};
        q += v + 2;
    }
    *nargs = (size_t)cnt;
    *used = (size_t)(q - p);
    return 1;
}

/* Replay the file into tabs[] (only shard @p only's keys if >= 0).
 * A truncated last record is reported, skipped and cut off the file;
 * anything else malformed stops the start with a message naming the
 * offset. @return 0 or -1 (reported). */
static int aof_replay(table *tabs, int only)
{
    int fd = open(aof.path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf;
    size_t n = 0, off = 0, nrec = 0;

    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, "kv-server: %s: %s\n", aof.path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd); /* /dev/null, /dev/full...: nothing to replay */
        return 0;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        fprintf(stderr, "kv-server: %s: no memory to replay it\n", aof.path);
        close(fd);
        return -1;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    while (off < n) {
        slice a[3];
        size_t na = 0, used = 0;
        int rc = aof_record(buf + off, n - off, a, &na, &used);
        if (rc == 0) {
            fprintf(stderr, "kv-server: %s: the last record (%zu bytes at "
                            "offset %zu) is incomplete, as after a crash in "
                            "the middle of a write: skipped%s\n",
                    aof.path, n - off, off,
                    only < 0 ? " and cut off the file" : "");
            if (only < 0 && truncate(aof.path, (off_t)off) != 0)
                fprintf(stderr, "kv-server: %s: truncate: %s\n", aof.path,
                        strerror(errno));
            break;
        }
        if (rc < 0) {
            fprintf(stderr, "kv-server: %s: not an append-only file of "
                            "kv-server, or damaged: bad record at offset "
                            "%zu (move it away to start empty)\n",
                    aof.path, off);
            free(buf);
            return -1;
        }
        off += used;
        nrec++;
        if (na == 1 && a[0].len == 8 && !strncasecmp(a[0].p, "flushall", 8)) {
            for (int i = 0; i < nshards; i++)
                if (only < 0 || i == only)
                    table_clear(&tabs[only < 0 ? i : 0], false);
            continue;
        }
        if (na < 2)
            continue;
        uint64_t h = hash_bytes(a[1].p, a[1].len);
        int sh = shard_of(h);
        if (only >= 0 && sh != only)
            continue;
        table *t = &tabs[only < 0 ? sh : 0];
        if (na == 3 && a[0].len == 3 && !strncasecmp(a[0].p, "set", 3)) {
            entry *e = entry_new(a[1].p, a[1].len, h, a[2].p, a[2].len);
            if (!e) {
                fprintf(stderr, "kv-server: %s: no memory to replay it\n",
                        aof.path);
                free(buf);
                return -1;
            }
            table_put(t, e);
        } else if (na == 2 && a[0].len == 3 &&
                   !strncasecmp(a[0].p, "del", 3)) {
            table_del(t, a[1].p, a[1].len, h);
        }
    }
    free(buf);
    if (only < 0)
        fprintf(stderr, "kv-server: %s: %zu records replayed\n", aof.path,
                nrec);
    return 0;
}

/* The tables replayed at start (or at a shard's restart), taken by the
 * shard that starts next on that index. */
static table *preload[AX_LOOPS_MAX];

/* -- background rewrite -- */

typedef struct snapshot {
    entry **e;
    size_t n;
} snapshot;

static bool write_all_fd(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static void *aof_rewrite_main(void *arg)
{
    snapshot *sn = arg;
    char tmp[4096];
    int fd, err = 0;

    snprintf(tmp, sizeof tmp, "%s.rewrite", aof.path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        err = errno;
    /* rec is this thread's own buffer here. */
    for (size_t i = 0; i < sn->n && !err; i++) {
        rec_set(sn->e[i]);
        if (rec.nomem)
            err = ENOMEM;
        else if (rec.len >= 65536 || i + 1 == sn->n) {
            if (!write_all_fd(fd, rec.p, rec.len))
                err = errno ? errno : ENOSPC;
            rec.len = 0;
        }
    }
    for (size_t i = 0; i < sn->n; i++)
        entry_unref(sn->e[i]);
    free(sn->e);
    free(sn);
    free(rec.p);
    rec.p = NULL;
    rec.len = rec.cap = 0;
    pthread_mutex_lock(&aof.mu);
    if (!err && aof.diff_nomem)
        err = ENOMEM;
    if (!err && !write_all_fd(fd, aof.diff, aof.dlen))
        err = errno ? errno : ENOSPC;
    if (!err && fsync(fd) != 0)
        err = errno;
    if (!err && rename(tmp, aof.path) != 0)
        err = errno;
    if (!err) {
        close(aof.fd);
        aof.fd = fd; /* O_APPEND is not needed: one writer at a time */
        lseek(fd, 0, SEEK_END);
        fd = -1;
        aof.dirty = false;
        fprintf(stderr, "kv-server: %s: rewritten\n", aof.path);
    } else {
        fprintf(stderr, "kv-server: %s: background rewrite failed: %s\n",
                aof.path, strerror(err));
        unlink(tmp);
    }
    free(aof.diff);
    aof.diff = NULL;
    aof.dlen = aof.dcap = 0;
    aof.diff_nomem = false;
    aof.rewriting = false;
    pthread_mutex_unlock(&aof.mu);
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* ---- requests: connection task -> shard -> connection task ---------------- */

enum { INCR_OK = 0, INCR_NOTINT, INCR_OVERFLOW, INCR_NOMEM };

typedef struct kref {
    const char *p; /* into the connection's buffer, which stays put until
                      the answer is back */
    size_t len;
    uint64_t h;
} kref;

/*
 * One row per command; adding a command is adding a row (and its handlers
 * where none of the existing ones fits). A command goes through up to three
 * steps, each on its own side:
 *   send   on the connection, at parse time: check the arguments (or set
 *          job.msg to an error reply) and ask the shards (job_ask,
 *          job_fan_out, job_all_shards). NULL: nothing to ask.
 *   shard  on the shard that owns the keys: do it to the table, leave the
 *          result in the request, which travels back as the answer.
 *   reply  on the connection, once every answer of the job is back (vals,
 *          in the order asked; finish() frees them afterwards): write the
 *          reply.
 */
typedef struct req req;
typedef struct slice slice;
typedef struct job job;
typedef struct conn conn;

typedef struct command {
    const char *name;
    int arity; /* as Redis: N exactly, -N at least, the name included */
    void (*send)(conn *c, job *j, const slice *a);
    void (*shard)(table *t, req *r);
    void (*reply)(conn *c, const job *j, const slice *a, void **vals);
} command;

typedef struct req {
    const command *cmd; /* its row: what the shard does with it */
    int n;                     /* keys, or entries for SET/MSET */
    long long num; /* in: INCR delta; out: count, DBSIZE, new value */
    int err;       /* out: INCR_* */
    int aof_err;   /* out: the append-only file could not be written */
    entry **snap;  /* out: BGREWRITEAOF, the shard's entries (referenced) */
    size_t nsnap;
    kref *keys;
    entry **ents;  /* in: SET/MSET; out: GET/MGET */
    uint32_t *idx; /* the keys' positions in the command (MGET) */
    int slots;     /* keys it has room for: at least 1 */
    struct req *next; /* in its connection's spares (req_take) */
} req;

/* The block holds room for max(n, 1) keys, so that every request of one
 * key or none is the same size and a connection can keep it for its next
 * command (req_take, req_give). */
/* A request block, new or a spare, made ready for @p cmd with @p n keys
 * (n <= r->slots): no entry referenced yet. */
static req *req_reset(req *r, const command *cmd, int n)
{
    r->next = NULL;
    r->cmd = cmd;
    r->n = n;
    r->num = 0;
    r->err = 0;
    r->aof_err = 0;
    r->snap = NULL;
    r->nsnap = 0;
    memset(r->ents, 0, (size_t)(n ? n : 1) * sizeof(entry *));
    return r;
}

static req *req_new(const command *cmd, int n)
{
    int slots = n ? n : 1;
    req *r = malloc(sizeof *r + (size_t)slots * (sizeof(kref) +
                                                 sizeof(entry *) +
                                                 sizeof(uint32_t)));

    if (!r)
        return NULL;
    r->slots = slots;
    r->keys = (kref *)(r + 1);
    r->ents = (entry **)(r->keys + slots);
    r->idx = (uint32_t *)(r->ents + slots);
    return req_reset(r, cmd, n);
}

/* What a request holds besides its block: the entries it references. */
static void req_clear(req *r)
{
    for (int i = 0; i < r->n; i++)
        entry_unref(r->ents[i]);
    if (r->snap) { /* BGREWRITEAOF's only */
        for (size_t i = 0; i < r->nsnap; i++)
            entry_unref(r->snap[i]);
        free(r->snap);
    }
}

static void req_free(req *r)
{
    if (!r)
        return;
    req_clear(r);
    free(r);
}

/* The actors' undelivered hook: a request that never reached its shard
 * (queued in a shard that failed, or the runtime stopping). */
static void undelivered(int tag, void *data, int reason)
{
    (void)tag;
    (void)reason;
    req_free(data);
}

/* The reply-dropped hook: an answer whose asker stopped waiting. Every
 * answer is awaited (await_ask), so this is a safety net against leaks. */
static void reply_dropped(void *value)
{
    req_free(value);
}

/* -- what a shard does with a request (command.shard) -- */

static void shard_get(table *t, req *r)
{
    for (int i = 0; i < r->n; i++) {
        entry *e = *table_find(t, r->keys[i].p, r->keys[i].len, r->keys[i].h);
        r->ents[i] = e ? entry_ref(e) : NULL;
    }
}

static void shard_set(table *t, req *r)
{
    for (int i = 0; i < r->n; i++) {
        rec_set(r->ents[i]);
        table_put(t, r->ents[i]);
        r->ents[i] = NULL;
    }
}

static void shard_del(table *t, req *r)
{
    for (int i = 0; i < r->n; i++)
        if (table_del(t, r->keys[i].p, r->keys[i].len, r->keys[i].h)) {
            rec_del(r->keys[i].p, r->keys[i].len);
            r->num++;
        }
}

static void shard_exists(table *t, req *r)
{
    for (int i = 0; i < r->n; i++)
        r->num += *table_find(t, r->keys[i].p, r->keys[i].len,
                              r->keys[i].h) != NULL;
}

static void shard_incr(table *t, req *r)
{
    kref *k = &r->keys[0];
    entry *e = *table_find(t, k->p, k->len, k->h), *ne;
    long long v = 0;
    char tmp[24];
    int len;

    if (e && !parse_ll(e->data + e->klen, e->vlen, &v)) {
        r->err = INCR_NOTINT;
        return;
    }
    if ((r->num > 0 && v > LLONG_MAX - r->num) ||
        (r->num < 0 && v < LLONG_MIN - r->num)) {
        r->err = INCR_OVERFLOW;
        return;
    }
    v += r->num;
    len = snprintf(tmp, sizeof tmp, "%lld", v);
    if (!(ne = entry_new(k->p, k->len, k->h, tmp, (size_t)len))) {
        r->err = INCR_NOMEM;
        return;
    }
    rec_set(ne);
    table_put(t, ne);
    r->num = v;
}

static void shard_dbsize(table *t, req *r) { r->num = (long long)t->n; }

static void shard_flush(table *t, req *r)
{
    (void)r;
    rec_flush();
    table_clear(t, true);
}

/* BGREWRITEAOF: a reference to every entry, for the rewrite thread. */
static void shard_snapshot(table *t, req *r)
{
    if (!(r->snap = malloc((t->n ? t->n : 1) * sizeof *r->snap))) {
        r->aof_err = ENOMEM;
        return;
    }
    for (size_t i = 0; i <= t->mask; i++)
        for (entry *e = t->b[i]; e; e = e->next)
            r->snap[r->nsnap++] = entry_ref(e);
}

/* DEBUG CRASH-SHARD: shard_main sees this row and fails. */
static void shard_crash(table *t, req *r)
{
    (void)t;
    (void)r;
}

/* Every request's tag: a shard gets nothing else, the row says the rest. */
enum { TAG_REQ = 1 };

/* The table of the shard running on this loop's thread, while it runs
 * (NULL before it starts, after it ends, between a failure and its
 * restart): the connections of this loop call into it directly. */
static _Thread_local struct {
    table *t;
    int idx;
} local_shard;

/* A shard: owns one table; answers every request with the request itself. */
#define GROUP_MAX 256 /* requests answered after one fsync (always) */

static void *shard_main(void *arg)
{
    int idx = (int)(intptr_t)arg;
    table t, *pre = preload[idx];
    ax_msg ms[GROUP_MAX];
    bool wrote_i[GROUP_MAX];
    int rc = 0;

    /* The table replayed from the AOF, if any, else an empty one. */
    preload[idx] = NULL;
    if (pre) {
        t = *pre;
        free(pre);
    } else if ((rc = table_init(&t))) {
        return ax_task_fail(rc);
    }
    local_shard.t = &t;
    local_shard.idx = idx;
    while (!rc && (rc = ax_recv(&ms[0], -1)) == 0) {
        size_t n = 0;
        bool wrote = false;
        int more = 0;
        /* Do what is queued (up to GROUP_MAX), then one fsync, then the
         * answers: under `always`, nothing is acknowledged before it is
         * on disk. */
        do {
            req *r = ms[n].data;
            if (r->cmd->shard == shard_crash) {
                /* As a bug would: the table is lost, this ask and those
                 * still queued fail with AX_ESRCH, the supervisor starts a
                 * new shard (replayed from the AOF, if there is one). */
                req_free(r);
                rc = -EIO;
                break;
            }
            r->cmd->shard(&t, r);
            wrote_i[n] = false;
            if (aof.path && (rec.len || rec.nomem)) {
                r->aof_err = aof_append();
                wrote_i[n] = r->aof_err == 0;
                wrote |= wrote_i[n];
            }
            n++;
        } while (!rc && n < GROUP_MAX && (more = ax_recv(&ms[n], 0)) == 0);
        if (wrote && aof.mode == FSYNC_ALWAYS) {
            int err = aof_sync();
            for (size_t i = 0; err && i < n; i++)
                if (wrote_i[i])
                    ((req *)ms[i].data)->aof_err = err;
        }
        for (size_t i = 0; i < n; i++) {
            int e = ax_reply(&ms[i], ms[i].data);
            if (e) {
                fprintf(stderr, "kv-server: ax_reply: %s\n", ax_strerror(e));
                req_free(ms[i].data);
            }
        }
        /* A cancellation seen by the non-waiting receive is not seen
         * again: stop here. */
        if (!rc && more && more != AX_ETIMEDOUT)
            rc = more;
    }
    local_shard.t = NULL;
    table_clear(&t, false);
    free(t.b);
    /* This loop thread's record buffer (its next shard makes a new one). */
    free(rec.p);
    rec.p = NULL;
    rec.len = rec.cap = 0;
    rec.nomem = false;
    return rc == AX_ECANCELED || rc == AX_ESHUTDOWN ? NULL : ax_task_fail(rc);
}

/* ---- connections ---------------------------------------------------------- */

/* One parsed command of the batch. Immediate commands have no futures;
 * the others own futs[fi .. fi+nf). */
typedef struct job {
    const command *cmd; /* NULL: unknown */
    int err;         /* an ax_ask failure: answered with an error */
    const char *msg; /* a reply decided at parse time (errors) */
    size_t argi, argc;
    size_t fi, nf;
} job;

typedef struct conn {
    ax_sock *s;
    char *buf;        /* what was read; pos..len not yet parsed */
    size_t pos, len, cap;
    char *out;        /* replies of the batch */
    size_t olen, ocap;
    slice *args;
    size_t nargs, capargs;
    job *jobs;
    size_t njobs, capjobs;
    ax_future **futs; /* NULL: done by a direct call, vals holds it */
    void **vals;
    int *errs;
    size_t nfuts, capfuts;
    size_t nasks;     /* futures of the batch that are real asks */
    size_t ncmds;     /* commands of the batch, answered or not */
    req *spare;       /* requests of one key kept for the next commands */
    int nspare;
    size_t keep;      /* with kept: the replies up to QUIT's */
    const char *proto_err; /* set: answer it, then close */
    char errbuf[64];
    bool quit, nomem, kept;
    bool over;     /* olen passed cfg.output_limit: close, say nothing */
    bool stopping; /* cancelled (the server stops): close after this batch */
} conn;

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 16;
    void *q;

    if (need <= *cap)
        return true;
    while (n < need)
        n *= 2;
    if (!(q = realloc(*p, n * elem)))
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* -- requests kept by a connection -- */

/* A batch of SPARE_MAX single-key commands or fewer mallocs nothing for
 * its requests once the connection has served one like it (a malloc and
 * a free: ~65 instructions from glibc's thread cache, a tenth of a
 * pipelined GET, more from its arenas), and an idle connection keeps at
 * most SPARE_MAX * ~130 bytes. A request goes home to
 * the connection that made it (finish); the actors' hooks free the ones
 * that do not come back. */
#define SPARE_MAX 32

static req *req_take(conn *c, const command *cmd, int n)
{
    req *r = c->spare;

    if (n > 1 || !r)
        return req_new(cmd, n);
    c->spare = r->next;
    c->nspare--;
    return req_reset(r, cmd, n);
}

static void req_give(conn *c, req *r)
{
    if (!r)
        return;
    req_clear(r);
    if (r->slots != 1 || c->nspare >= SPARE_MAX) {
        free(r);
        return;
    }
    r->next = c->spare;
    c->spare = r;
    c->nspare++;
}

/* -- replies -- */

/* Room for n more bytes of replies, or NULL (out of memory, or over
 * --output-limit: the batch's replies are dropped and the client closed
 * or told, whatever was written of them). */
static char *out_room(conn *c, size_t n)
{
    if (c->nomem || c->over)
        return NULL;
    if (cfg.output_limit && c->olen + n > cfg.output_limit) {
        /* Redis's client-output-buffer-limit (hard): such a client is
         * closed rather than left to grow the server without bound. */
        c->over = true;
        return NULL;
    }
    if (c->olen + n > c->ocap &&
        !grow((void **)&c->out, &c->ocap, c->olen + n, 1)) {
        c->nomem = true;
        return NULL;
    }
    return c->out + c->olen;
}

static void out_raw(conn *c, const void *p, size_t n)
{
    char *q;

    if (n == 0 || !(q = out_room(c, n)))
        return;
    memcpy(q, p, n);
    c->olen += n;
}

static void out_str(conn *c, const char *s) { out_raw(c, s, strlen(s)); }

/* "<prefix><n>\r\n" */
static void out_num(conn *c, char prefix, long long n)
{
    char tmp[32], *e = tmp + sizeof tmp, *p = e;
    unsigned long long u = n < 0 ? 0 - (unsigned long long)n
                                 : (unsigned long long)n;

    *--p = '\n';
    *--p = '\r';
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (n < 0)
        *--p = '-';
    *--p = prefix;
    out_raw(c, p, (size_t)(e - p));
}

static void out_bulk(conn *c, const char *p, size_t n)
{
    out_num(c, '$', (long long)n);
    out_raw(c, p, n);
    out_raw(c, "\r\n", 2);
}

/* A GET's reply, "$<len>\r\n<value>\r\n" (or the nil "$-1\r\n"), made
 * in place after one check for room rather than three. */
static void out_entry(conn *c, const entry *e)
{
    size_t d = 1, n;
    char *p;

    if (!e) {
        out_raw(c, "$-1\r\n", 5);
        return;
    }
    for (uint32_t v = e->vlen; v >= 10; v /= 10)
        d++;
    n = 1 + d + 2 + e->vlen + 2;
    if (!(p = out_room(c, n)))
        return;
    p[0] = '$';
    for (uint32_t v = e->vlen, i = (uint32_t)d; i; v /= 10)
        p[i--] = (char)('0' + v % 10);
    p[d + 1] = '\r';
    p[d + 2] = '\n';
    memcpy(p + d + 3, e->data + e->klen, e->vlen);
    p[n - 2] = '\r';
    p[n - 1] = '\n';
    c->olen += n;
}

/* An error reply naming a client's word (a command name): at most 64
 * bytes of it, control characters shown as spaces (as Redis does), so that
 * a CR or LF in it cannot end the reply early and make one request look
 * like several replies. */
static void out_errf(conn *c, const char *fmt, const slice *arg)
{
    char tmp[160], word[64];
    size_t wl = arg->len > sizeof word ? sizeof word : arg->len;
    int n;

    for (size_t i = 0; i < wl; i++) {
        unsigned char ch = (unsigned char)arg->p[i];
        word[i] = ch < 32 || ch == 127 ? ' ' : (char)ch;
    }
    n = snprintf(tmp, sizeof tmp, fmt, (int)wl, word);

    out_raw(c, tmp, n < 0 ? 0 : (size_t)n >= sizeof tmp ? sizeof tmp - 1
                                                         : (size_t)n);
}

/* -- asking the shards -- */

static void job_ask(conn *c, job *j, int shard, req *r)
{
    ax_future *f;
    int rc;

    if (!r) {
        j->err = AX_ENOMEM;
        return;
    }
    if (c->nfuts == c->capfuts) {
        /* futs, vals and errs share one capacity */
        size_t cap = c->capfuts ? c->capfuts * 2 : 64;
        void *f = realloc(c->futs, cap * sizeof *c->futs);
        void *v = f ? realloc(c->vals, cap * sizeof *c->vals) : NULL;
        void *e = v ? realloc(c->errs, cap * sizeof *c->errs) : NULL;
        if (f)
            c->futs = f;
        if (v)
            c->vals = v;
        if (!e) {
            req_free(r);
            j->err = AX_ENOMEM;
            return;
        }
        c->errs = e;
        c->capfuts = cap;
    }
    if (!c->nasks && local_shard.t && local_shard.idx == shard &&
        !aof.path && r->cmd->shard != shard_crash &&
        r->cmd->shard != shard_snapshot) {
        r->cmd->shard(local_shard.t, r);
        c->futs[c->nfuts] = NULL;
        c->vals[c->nfuts++] = r;
        j->nf++;
        return;
    }
    rc = ax_ask(shard_ref(shard), TAG_REQ, r, &f);
    if (rc) {
        req_free(r);
        j->err = rc;
        return;
    }
    c->futs[c->nfuts++] = f;
    c->nasks++;
    j->nf++;
}

static kref key_of(const slice *s)
{
    return (kref){s->p, s->len, hash_bytes(s->p, s->len)};
}

/* One request per shard involved; keys at args[first], args[first+step],
 * ... (step 2 for MSET's key/value pairs). */
static void job_fan_out(conn *c, job *j, size_t first, size_t step)
{
    int cnt[AX_LOOPS_MAX] = {0};
    req *rs[AX_LOOPS_MAX];
    const slice *a = c->args + j->argi;

    for (size_t i = first; i < j->argc; i += step)
        cnt[shard_of(hash_bytes(a[i].p, a[i].len))]++;
    for (int s = 0; s < nshards; s++) {
        rs[s] = NULL;
        if (cnt[s] && !(rs[s] = req_take(c, j->cmd, cnt[s])))
            j->err = AX_ENOMEM;
        cnt[s] = 0;
    }
    for (size_t i = first, k = 0; i < j->argc && !j->err; i += step, k++) {
        kref key = key_of(&a[i]);
        int s = shard_of(key.h);
        req *r = rs[s];
        r->keys[cnt[s]] = key;
        r->idx[cnt[s]] = (uint32_t)k;
        if (step == 2 &&
            !(r->ents[cnt[s]] = entry_new(key.p, key.len, key.h, a[i + 1].p,
                                          a[i + 1].len)))
            j->err = AX_ENOMEM;
        cnt[s]++;
    }
    for (int s = 0; s < nshards; s++) {
        if (!rs[s])
            continue;
        if (j->err)
            req_free(rs[s]);
        else
            job_ask(c, j, s, rs[s]);
    }
}

/* -- what a command sends (command.send) -- */

static void send_get(conn *c, job *j, const slice *a)
{
    req *r = req_take(c, j->cmd, 1);

    if (r)
        r->keys[0] = key_of(&a[1]);
    job_ask(c, j, r ? shard_of(r->keys[0].h) : 0, r);
}

static void send_set(conn *c, job *j, const slice *a)
{
    kref key = key_of(&a[1]);
    req *r;

    if (j->argc != 3) { /* no EX, NX, ... */
        j->msg = "-ERR syntax error\r\n";
        return;
    }
    if ((r = req_take(c, j->cmd, 1)) &&
        !(r->ents[0] = entry_new(key.p, key.len, key.h, a[2].p, a[2].len))) {
        free(r);
        r = NULL;
    }
    job_ask(c, j, shard_of(key.h), r);
}

/* INCR, INCRBY (sign 1), DECR, DECRBY (sign -1): the delta is 1 or a[2]. */
static void send_add(conn *c, job *j, const slice *a, int sign)
{
    long long d = 1;
    req *r;

    if (j->argc == 3 && !parse_ll(a[2].p, a[2].len, &d)) {
        j->msg = "-ERR value is not an integer or out of range\r\n";
        return;
    }
    if (sign < 0) {
        if (d == LLONG_MIN) {
            j->msg = "-ERR decrement would overflow\r\n";
            return;
        }
        d = -d;
    }
    if ((r = req_take(c, j->cmd, 1))) {
        r->keys[0] = key_of(&a[1]);
        r->num = d;
    }
    job_ask(c, j, r ? shard_of(r->keys[0].h) : 0, r);
}

static void send_incr(conn *c, job *j, const slice *a) { send_add(c, j, a, 1); }

static void send_decr(conn *c, job *j, const slice *a)
{
    send_add(c, j, a, -1);
}

/* DEL, EXISTS, MGET: every argument after the name is a key. */
static void send_keys(conn *c, job *j, const slice *a)
{
    (void)a;
    job_fan_out(c, j, 1, 1);
}

/* MSET: key value pairs. */
static void send_pairs(conn *c, job *j, const slice *a)
{
    (void)a;
    if (j->argc % 2 == 0) {
        j->msg = "-ERR wrong number of arguments for '%.*s' command\r\n";
        return;
    }
    job_fan_out(c, j, 1, 2);
}

/* DBSIZE, FLUSHALL: one request to every shard. */
static void send_all(conn *c, job *j, const slice *a)
{
    (void)a;
    for (int s = 0; s < nshards; s++)
        job_ask(c, j, s, req_take(c, j->cmd, 0));
}

/* DEBUG CRASH-SHARD n (--debug only): make shard n fail, for the tests
 * of its supervisor. */
static void send_debug(conn *c, job *j, const slice *a)
{
    long long n;

    if (!cfg.debug) {
        j->msg = "-ERR DEBUG is off (start kv-server with --debug)\r\n";
        return;
    }
    if (j->argc != 3 || a[1].len != 11 ||
        strncasecmp(a[1].p, "crash-shard", 11) != 0) {
        j->msg = "-ERR usage: DEBUG CRASH-SHARD n\r\n";
        return;
    }
    if (!parse_ll(a[2].p, a[2].len, &n) || n < 0 || n >= nshards) {
        j->msg = "-ERR no such shard\r\n";
        return;
    }
    job_ask(c, j, (int)n, req_take(c, j->cmd, 0));
}

/* BGREWRITEAOF: the diff starts before any shard is asked for its
 * snapshot, so nothing falls between the two. */
static void send_rewrite(conn *c, job *j, const slice *a)
{
    bool busy;

    (void)a;
    if (!aof.path) {
        j->msg = "-ERR no append-only file (start with --aof FILE)\r\n";
        return;
    }
    pthread_mutex_lock(&aof.mu);
    busy = aof.rewriting;
    if (!busy)
        aof.rewriting = true;
    pthread_mutex_unlock(&aof.mu);
    if (busy) {
        j->msg = "-ERR Background append only file rewriting already in "
                 "progress\r\n";
        return;
    }
    send_all(c, j, a);
}

/* -- how a command answers (command.reply) -- */

static void reply_ping(conn *c, const job *j, const slice *a, void **vals)
{
    (void)vals;
    if (j->argc == 1)
        out_raw(c, "+PONG\r\n", 7);
    else if (j->argc == 2)
        out_bulk(c, a[1].p, a[1].len);
    else
        out_errf(c, "-ERR wrong number of arguments for '%.*s' command\r\n",
                 &a[0]);
}

static void reply_echo(conn *c, const job *j, const slice *a, void **vals)
{
    (void)j;
    (void)vals;
    out_bulk(c, a[1].p, a[1].len);
}

static void reply_ok(conn *c, const job *j, const slice *a, void **vals)
{
    (void)j;
    (void)a;
    (void)vals;
    out_raw(c, "+OK\r\n", 5);
}

static void reply_quit(conn *c, const job *j, const slice *a, void **vals)
{
    reply_ok(c, j, a, vals);
    c->quit = true;
}

/* COMMAND (enough for redis-cli), CONFIG GET (nothing to report). */
static void reply_empty(conn *c, const job *j, const slice *a, void **vals)
{
    (void)j;
    (void)a;
    (void)vals;
    out_raw(c, "*0\r\n", 4);
}

static void reply_select(conn *c, const job *j, const slice *a, void **vals)
{
    (void)j;
    (void)vals;
    if (a[1].len == 1 && a[1].p[0] == '0')
        out_raw(c, "+OK\r\n", 5);
    else
        out_str(c, "-ERR DB index is out of range\r\n");
}

static void reply_get(conn *c, const job *j, const slice *a, void **vals)
{
    (void)j;
    (void)a;
    out_entry(c, ((req *)vals[0])->ents[0]);
}

static void reply_incr(conn *c, const job *j, const slice *a, void **vals)
{
    const req *r = vals[0];

    (void)j;
    (void)a;
    if (r->err == INCR_NOTINT)
        out_str(c, "-ERR value is not an integer or out of range\r\n");
    else if (r->err == INCR_OVERFLOW)
        out_str(c, "-ERR increment or decrement would overflow\r\n");
    else if (r->err == INCR_NOMEM)
        out_str(c, "-ERR out of memory\r\n");
    else
        out_num(c, ':', r->num);
}

/* DEL, EXISTS, DBSIZE: the shards' counts added up. */
static void reply_sum(conn *c, const job *j, const slice *a, void **vals)
{
    long long sum = 0;

    (void)a;
    for (size_t i = 0; i < j->nf; i++)
        sum += ((req *)vals[i])->num;
    out_num(c, ':', sum);
}

/* MGET: the shards' values put back in argument order. */
static void reply_mget(conn *c, const job *j, const slice *a, void **vals)
{
    size_t nk = j->argc - 1;
    entry **res = calloc(nk, sizeof *res);

    (void)a;
    if (!res) {
        out_str(c, "-ERR out of memory\r\n");
        return;
    }
    for (size_t i = 0; i < j->nf; i++) {
        req *r = vals[i];
        for (int k = 0; k < r->n; k++) {
            res[r->idx[k]] = r->ents[k];
            r->ents[k] = NULL;
        }
    }
    out_num(c, '*', (long long)nk);
    for (size_t k = 0; k < nk; k++) {
        out_entry(c, res[k]);
        entry_unref(res[k]);
    }
    free(res);
}

static void reply_rewrite(conn *c, const job *j, const slice *a, void **vals)
{
    snapshot *sn = calloc(1, sizeof *sn);
    size_t total = 0;
    int err = sn ? 0 : ENOMEM;

    (void)a;
    for (size_t i = 0; i < j->nf; i++) {
        total += ((req *)vals[i])->nsnap;
        if (((req *)vals[i])->aof_err)
            err = ((req *)vals[i])->aof_err;
    }
    if (!err && !(sn->e = malloc((total ? total : 1) * sizeof *sn->e)))
        err = ENOMEM;
    for (size_t i = 0; !err && i < j->nf; i++) {
        req *r = vals[i];
        memcpy(sn->e + sn->n, r->snap, r->nsnap * sizeof *r->snap);
        sn->n += r->nsnap;
        r->nsnap = 0; /* the references are the snapshot's now */
    }
    /* A plain thread writes the new file, off every loop. The previous
     * one has ended (aof.rewriting was false): join it first. */
    if (!err && aof_rewriter_on)
        pthread_join(aof_rewriter, NULL);
    if (!err && (err = pthread_create(&aof_rewriter, NULL, aof_rewrite_main,
                                      sn)) == 0) {
        aof_rewriter_on = true;
        out_str(c, "+Background append only file rewriting started\r\n");
        return;
    }
    if (sn) {
        for (size_t i = 0; i < sn->n; i++)
            entry_unref(sn->e[i]);
        free(sn->e);
        free(sn);
    }
    pthread_mutex_lock(&aof.mu);
    aof.rewriting = false;
    free(aof.diff);
    aof.diff = NULL;
    aof.dlen = aof.dcap = 0;
    pthread_mutex_unlock(&aof.mu);
    out_str(c, "-ERR cannot start the rewrite: ");
    out_str(c, strerror(err));
    out_str(c, "\r\n");
}

/* -- the command table -- */

static const command commands[] = {
    /* name       arity send        shard         reply */
    {"ping", -1, NULL, NULL, reply_ping},
    {"echo", 2, NULL, NULL, reply_echo},
    {"get", 2, send_get, shard_get, reply_get},
    {"set", -3, send_set, shard_set, reply_ok},
    {"del", -2, send_keys, shard_del, reply_sum},
    {"exists", -2, send_keys, shard_exists, reply_sum},
    {"incr", 2, send_incr, shard_incr, reply_incr},
    {"decr", 2, send_decr, shard_incr, reply_incr},
    {"incrby", 3, send_incr, shard_incr, reply_incr},
    {"decrby", 3, send_decr, shard_incr, reply_incr},
    {"mget", -2, send_keys, shard_get, reply_mget},
    {"mset", -3, send_pairs, shard_set, reply_ok},
    {"dbsize", 1, send_all, shard_dbsize, reply_sum},
    {"flushall", -1, send_all, shard_flush, reply_ok},
    {"flushdb", -1, send_all, shard_flush, reply_ok},
    {"quit", -1, NULL, NULL, reply_quit},
    {"command", -1, NULL, NULL, reply_empty},
    {"config", -2, NULL, NULL, reply_empty},
    {"select", 2, NULL, NULL, reply_select},
    {"debug", -2, send_debug, shard_crash, reply_ok},
    {"bgrewriteaof", 1, send_rewrite, shard_snapshot, reply_rewrite},
};

/* Is the client's word s the row's name, in any case? The names are
 * lower-case letters, and a byte ORed with 0x20 is one of them only if it
 * was that letter in either case (strlen and strncasecmp cost ~40
 * instructions a row). */
static bool name_is(const char *name, const slice *s)
{
    size_t i = 0;

    for (; i < s->len; i++)
        if (!name[i] ||
            ((unsigned char)s->p[i] | 0x20) != (unsigned char)name[i])
            return false;
    return name[i] == '\0';
}

/* O(rows), fine for this table: the first letter rules out nearly every
 * row in a few instructions (GET and SET: ~30 in all). */
static const command *lookup(const slice *name)
{
    unsigned first;

    if (!name->len)
        return NULL;
    first = (unsigned char)name->p[0] | 0x20;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if ((unsigned char)commands[i].name[0] == first &&
            name_is(commands[i].name, name))
            return &commands[i];
    return NULL;
}

static void finish(conn *c, job *j);

/* Answer job j and note where the replies end if it was QUIT: those of
 * the commands after it are dropped. */
static void answer(conn *c, job *j)
{
    finish(c, j);
    if (c->quit && !c->kept) {
        c->kept = true;
        c->keep = c->olen;
    }
}

/* Parse-time half of a command: check it and send its requests. A command
 * that asked no shard (done by a direct call, or needing none) is answered
 * at once if no command before it in the batch waits for an answer: the
 * replies stay in order, and its request goes back to the spares for the
 * next command. Else it joins the jobs answered after the awaits. */
static void dispatch(conn *c, size_t argi, size_t argc)
{
    const slice *a = c->args + argi;
    const command *cmd = lookup(&a[0]);
    job *j;

    /* Room first: once it has asked, the job must have its place. */
    if (!grow((void **)&c->jobs, &c->capjobs, c->njobs + 1, sizeof *c->jobs)) {
        c->nomem = true;
        return;
    }
    c->ncmds++;
    j = &c->jobs[c->njobs];
    *j = (job){.cmd = cmd, .argi = argi, .argc = argc, .fi = c->nfuts};
    if (!cmd)
        j->msg = "-ERR unknown command '%.*s'\r\n";
    else if ((cmd->arity > 0 && argc != (size_t)cmd->arity) ||
             (cmd->arity < 0 && argc < (size_t)-cmd->arity))
        j->msg = "-ERR wrong number of arguments for '%.*s' command\r\n";
    else if (cmd->send)
        cmd->send(c, j, a);
    if (c->njobs || c->nasks) {
        c->njobs++;
        return;
    }
    answer(c, j);
    c->nfuts = j->fi;
    c->nargs = argi;
}

/* Await one ask. A cancellation (the server is stopping) is noted, so
 * that the connection closes once this batch is answered, and the answer
 * still awaited: the request comes home to be freed, and the client gets
 * the reply of a request that was done. */
static int await_ask(conn *c, ax_future *f, void **val)
{
    for (;;) {
        int rc = ax_await(f, val);
        if (rc != AX_ECANCELED || ax_future_done(f))
            return rc;
        c->stopping = true;
    }
}

/* Await-time half: collect the answers of job j and write its reply. */
static void finish(conn *c, job *j)
{
    const slice *a = c->args + j->argi; /* argc >= 1: args is allocated */
    /* No pointer arithmetic on the still-NULL arrays of a batch without
     * asks (UB even with offset 0; UBSan stops there). */
    ax_future **fs = j->nf ? c->futs + j->fi : NULL;
    void **vals = j->nf ? c->vals + j->fi : NULL;
    int *errs = j->nf ? c->errs + j->fi : NULL;
    int rc = 0;

    /* Every ask of the job is in flight already: awaiting them in order
     * costs no more than a gather, and a cancellation cannot drop one. */
    for (size_t i = 0; i < j->nf; i++) {
        errs[i] = fs[i] ? await_ask(c, fs[i], &vals[i]) : 0;
        if (errs[i] && !rc)
            rc = errs[i];
    }
    if (rc || j->err) {
        int why = j->err ? j->err : rc;
        for (size_t i = 0; i < j->nf; i++)
            if (errs[i] == 0)
                req_give(c, vals[i]);
        if (why == AX_ESRCH) {
            /* A shard failed with this request queued (or being done):
             * its supervisor restarts it; this client is told, the
             * connection and the other shards go on. */
            out_str(c, "-ERR shard failed and was restarted: "
                       "the command may not have been done\r\n");
            return;
        }
        out_str(c, "-ERR internal error: ");
        out_str(c, ax_strerror(why));
        out_str(c, "\r\n");
        if (why != AX_ENOMEM)
            c->quit = true; /* the server is stopping */
        return;
    }
    for (size_t i = 0; i < j->nf && !j->msg; i++) {
        int e = ((req *)vals[i])->aof_err;
        if (e && j->cmd->shard != shard_snapshot) {
            /* Done in memory, not on disk: the client must know. */
            out_str(c, "-ERR append-only file write failed: ");
            out_str(c, strerror(e));
            out_str(c, "\r\n");
            for (size_t k = 0; k < j->nf; k++)
                req_give(c, vals[k]);
            return;
        }
    }
    if (j->msg)
        out_errf(c, j->msg, &a[0]);
    else
        j->cmd->reply(c, j, a, vals);
    for (size_t i = 0; i < j->nf; i++)
        req_give(c, vals[i]);
}

/* -- the parser -- */

enum { P_MORE = 0, P_CMD = 1, P_ERR = -1 };

static bool add_arg(conn *c, const char *p, size_t len)
{
    if (!grow((void **)&c->args, &c->capargs, c->nargs + 1, sizeof *c->args)) {
        c->nomem = true;
        return false;
    }
    c->args[c->nargs++] = (slice){p, len};
    return true;
}

/* A header line "<type><digits>\r\n" at p: its number, or P_MORE/P_ERR. */
static int header_any(conn *c, size_t p, long long *num, size_t *next,
                      const char *toolong)
{
    const char *s = c->buf + p + 1, *end = c->buf + c->len, *q = s;
    const char *nl;
    unsigned long long v = 0;

    /* The usual case, "<1-9><up to 17 more digits>\r\n", in one pass
     * (three headers per GET: memchr and parse_ll cost ~100 instructions
     * each). It takes exactly what the general path below takes, with the
     * same value; anything else goes there. */
    if (q < end && *q >= '1' && *q <= '9') {
        do
            v = v * 10 + (unsigned)(*q++ - '0');
        while (q < end && q - s < 18 && *q >= '0' && *q <= '9');
        if (end - q >= 2 && q[0] == '\r' && q[1] == '\n') {
            *num = (long long)v;
            *next = (size_t)(q + 2 - c->buf);
            return P_CMD;
        }
    }
    nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl) {
        if ((size_t)(end - s) > MAX_INLINE) {
            c->proto_err = toolong;
            return P_ERR;
        }
        return P_MORE;
    }
    if (nl == s || nl[-1] != '\r') {
        c->proto_err = "expected CRLF";
        return P_ERR;
    }
    if (!parse_ll(s, (size_t)(nl - 1 - s), num))
        *num = -2; /* not a number: the caller names the error */
    *next = (size_t)(nl + 1 - c->buf);
    return P_CMD;
}

/* header_any() for one or two digits done inline: the counts and lengths
 * of nearly every command (a call and the general loop cost ~70
 * instructions a header, four headers a SET). Same result as
 * header_any(), which takes everything else. */
static inline int header(conn *c, size_t p, long long *num, size_t *next,
                         const char *toolong)
{
    const unsigned char *s = (const unsigned char *)c->buf + p + 1;

    if (c->len - p >= 5) { /* the type, two digits, CR, LF */
        unsigned d0 = s[0] - (unsigned)'1', d1 = s[1] - (unsigned)'0';
        if (d0 < 9 && s[1] == '\r' && s[2] == '\n') {
            *num = d0 + 1;
            *next = p + 4;
            return P_CMD;
        }
        if (d0 < 9 && d1 < 10 && s[2] == '\r' && s[3] == '\n') {
            *num = (d0 + 1) * 10 + d1;
            *next = p + 5;
            return P_CMD;
        }
    }
    return header_any(c, p, num, next, toolong);
}

static int parse_multibulk(conn *c, size_t *need)
{
    size_t p = c->pos, mark = c->nargs;
    long long n;
    int rc;

    if ((rc = header(c, p, &n, &p, "too big mbulk count string")) != P_CMD)
        return rc;
    if (n < 0 || n > MAX_MULTIBULK) {
        c->proto_err = "invalid multibulk length";
        return P_ERR;
    }
    for (long long i = 0; i < n; i++) {
        long long blen;
        if (p >= c->len)
            goto more;
        if (c->buf[p] != '$') {
            snprintf(c->errbuf, sizeof c->errbuf, "expected '$', got '%c'",
                     c->buf[p] >= 32 && c->buf[p] < 127 ? c->buf[p] : '?');
            c->proto_err = c->errbuf;
            return P_ERR;
        }
        if ((rc = header(c, p, &blen, &p, "too big bulk count string")) !=
            P_CMD) {
            if (rc == P_MORE)
                goto more;
            return rc;
        }
        if (blen < 0 || (size_t)blen > cfg.max_bulk ||
            (size_t)blen > MAX_BULK_HARD) {
            c->proto_err = "invalid bulk length";
            return P_ERR;
        }
        if (c->len - p < (size_t)blen + 2) {
            *need = p + (size_t)blen + 2 - c->pos;
            goto more;
        }
        if (c->buf[p + blen] != '\r' || c->buf[p + blen + 1] != '\n') {
            c->proto_err = "expected CRLF after bulk data";
            return P_ERR;
        }
        if (!add_arg(c, c->buf + p, (size_t)blen))
            return P_ERR;
        p += (size_t)blen + 2;
    }
    c->pos = p;
    return P_CMD;
more:
    c->nargs = mark;
    return P_MORE;
}

static int parse_inline(conn *c)
{
    const char *s = c->buf + c->pos, *end = c->buf + c->len;
    const char *nl = memchr(s, '\n', (size_t)(end - s)), *e;

    if (!nl) {
        if ((size_t)(end - s) > MAX_INLINE) {
            c->proto_err = "too big inline request";
            return P_ERR;
        }
        return P_MORE;
    }
    c->pos = (size_t)(nl + 1 - c->buf);
    e = nl > s && nl[-1] == '\r' ? nl - 1 : nl;
    while (s < e) {
        const char *w;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        for (w = s; s < e && *s != ' ' && *s != '\t'; s++)
            ;
        if (s > w && !add_arg(c, w, (size_t)(s - w)))
            return P_ERR;
    }
    return P_CMD;
}

/* A bulk string where a request should start: a client out of step.
 * Redis would run "$3" as an inline command; a protocol error says more. */
static int parse_stray_bulk(conn *c)
{
    long long n;
    size_t next;
    int rc = header(c, c->pos, &n, &next, "too big bulk count string");

    if (rc != P_CMD)
        return rc;
    c->proto_err = n < 0 ? "invalid bulk length" : "expected '*', got '$'";
    return P_ERR;
}

/* Parse and dispatch what is buffered, up to MAX_BATCH commands.
 * @return bytes wanted from pos before parsing can go on. */
static size_t parse_batch(conn *c)
{
    size_t need = 0;

    while (c->ncmds < MAX_BATCH && c->pos < c->len && !c->proto_err &&
           !c->nomem) {
        size_t mark = c->nargs;
        int rc = c->buf[c->pos] == '*'   ? parse_multibulk(c, &need)
                 : c->buf[c->pos] == '$' ? parse_stray_bulk(c)
                                         : parse_inline(c);
        if (rc == P_MORE)
            return need ? need : c->len - c->pos + 1;
        if (rc != P_CMD)
            break;
        if (c->nargs > mark)
            dispatch(c, mark, c->nargs - mark);
        need = 0;
    }
    return 0;
}

static void conn_free(conn *c)
{
    for (req *r = c->spare, *next; r; r = next) {
        next = r->next;
        free(r);
    }
    free(c->buf);
    free(c->out);
    free(c->args);
    free(c->jobs);
    free(c->futs);
    free(c->vals);
    free(c->errs);
}

static void serve_conn(ax_sock *s, void *arg)
{
    conn c = {.s = s};
    /* --timeout: a client that sends nothing (or reads nothing of its
     * replies) for that long is closed, as Redis's `timeout`. */
    double io_timeout = cfg.timeout > 0 ? cfg.timeout : -1;
    int rc = 0;

    (void)arg;
    for (;;) {
        size_t need = parse_batch(&c);

        /* Every request of the batch is on its way (those answered at
         * parse time are done); now the answers. After QUIT the rest is
         * still awaited (each request must come home to be freed) but not
         * answered. */
        for (size_t i = 0; i < c.njobs; i++)
            answer(&c, &c.jobs[i]);
        if (c.kept)
            c.olen = c.keep;
        c.kept = false;
        for (size_t i = 0; i < c.nfuts; i++)
            if (c.futs[i])
                ax_future_free(c.futs[i]);
        c.nfuts = c.nasks = c.njobs = c.nargs = c.ncmds = 0;
        if (c.proto_err && !c.quit) {
            out_str(&c, "-ERR Protocol error: ");
            out_str(&c, c.proto_err);
            out_str(&c, "\r\n");
            c.quit = true;
        }
        if (c.nomem) {
            c.olen = 0;
            c.nomem = false;
            out_str(&c, "-ERR out of memory\r\n");
            c.quit = true;
        }
        if (c.over) {
            fprintf(stderr, "kv-server: client closed: replies pending "
                            "passed --output-limit (%zu bytes)\n",
                    cfg.output_limit);
            break;
        }
        if (c.olen && (rc = ax_write_all(s, c.out, c.olen, io_timeout)))
            break;
        c.olen = 0;
        if (c.quit || c.stopping)
            break;
        if (need == 0 && c.pos < c.len)
            continue; /* the batch was full: more is buffered */
        /* Keep the unparsed tail, make room, read more. */
        if (c.pos) {
            memmove(c.buf, c.buf + c.pos, c.len - c.pos);
            c.len -= c.pos;
            c.pos = 0;
        }
        if (c.cap - c.len < RBUF_MIN / 4 || c.cap < need) {
            size_t cap = c.cap ? c.cap * 2 : RBUF_MIN;
            char *nb;
            if (cap < c.len + RBUF_MIN / 4)
                cap = c.len + RBUF_MIN;
            if (!(nb = realloc(c.buf, cap))) {
                out_str(&c, "-ERR out of memory\r\n");
                ax_write_all(s, c.out, c.olen, 1.0);
                break;
            }
            c.buf = nb;
            c.cap = cap;
        }
        ssize_t n = ax_read(s, c.buf + c.len, c.cap - c.len, io_timeout);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        c.len += (size_t)n;
    }
    if (rc && rc != AX_ECANCELED && rc != AX_ECONNRESET && rc != AX_EPIPE &&
        rc != AX_ETIMEDOUT)
        fprintf(stderr, "kv-server: connection: %s\n", ax_strerror(rc));
    conn_free(&c);
}

/* ---- main ---------------------------------------------------------------- */

static void ready(int port, void *arg)
{
    (void)arg;
    printf("listening on %s:%d\n", cfg.host, port);
    fflush(stdout);
}

/* A shard supervisor's start function: spawn the shard and publish its ref
 * before any connection can ask it (at start and at every restart). */
static int shard_start(ax_actor_ref *out, void *arg, const ax_actor_opts *opts)
{
    int i = (int)(intptr_t)arg;
    static bool started[AX_LOOPS_MAX];
    int rc;

    /* A restart: the shard's keys come back from the AOF (a shard that
     * failed has lost its table). aof.mu keeps the file still meanwhile. */
    if (started[i] && aof.path && !preload[i]) {
        table *t = malloc(sizeof *t);
        if (!t || table_init(t)) {
            free(t);
            return AX_ENOMEM;
        }
        pthread_mutex_lock(&aof.mu);
        rc = aof_replay(t, i);
        pthread_mutex_unlock(&aof.mu);
        if (rc) {
            table_clear(t, false);
            free(t->b);
            free(t);
            return AX_EINVAL;
        }
        preload[i] = t;
    }
    started[i] = true;
    rc = ax_actor_spawn(out, shard_main, arg, opts);
    if (rc == 0)
        atomic_store_explicit(&shard_ids[i], out->id, memory_order_release);
    return rc;
}

static int metrics_port = -1; /* --metrics */

static void *main_task(void *arg)
{
    static ax_sup_spec specs[AX_LOOPS_MAX];
    /* One supervisor for all shards, one for one: a shard that fails is
     * restarted (empty), the others never notice. More than 10 failures
     * in 10 s is a bug: the supervisor gives up and the server stops. */
    ax_sup_opts sup = {.strategy = AX_SUP_ONE_FOR_ONE, .intensity = 10,
                       .period = 10, .name = "shards"};
    ax_serve_opts so = {.ready = ready};
    int rc;

    (void)arg;
    if ((rc = ax_actor_set_undelivered(undelivered)) ||
        (rc = ax_actor_set_reply_dropped(reply_dropped)))
        return ax_task_fail(rc);
    if ((rc = ax_stop_on_signals())) {
        fprintf(stderr, "kv-server: ax_stop_on_signals: %s\n",
                ax_strerror(rc));
        return ax_task_fail(rc);
    }
    if ((rc = srv_dump_on_sigquit("kv-server")))
        return ax_task_fail(rc);
    nshards = ax_loop_count();
    if (aof.path) {
        table *tabs = calloc((size_t)nshards, sizeof *tabs);
        int bad = !tabs;
        for (int i = 0; !bad && i < nshards; i++)
            bad = table_init(&tabs[i]) != 0;
        if (bad || aof_replay(tabs, -1)) {
            if (bad)
                fprintf(stderr, "kv-server: out of memory\n");
            for (int i = 0; tabs && i < nshards; i++) {
                if (tabs[i].b)
                    table_clear(&tabs[i], false);
                free(tabs[i].b);
            }
            free(tabs);
            return ax_task_fail(AX_EINVAL);
        }
        for (int i = 0; i < nshards; i++) {
            if ((preload[i] = malloc(sizeof *preload[i])))
                *preload[i] = tabs[i];
            else
                table_clear(&tabs[i], false), free(tabs[i].b);
        }
        free(tabs);
        aof.fd = open(aof.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                      0644);
        if (aof.fd < 0) {
            fprintf(stderr, "kv-server: %s: %s\n", aof.path, strerror(errno));
            return ax_task_fail(AX_EINVAL);
        }
        if (aof.mode == FSYNC_EVERYSEC &&
            pthread_create(&aof_fsyncer, NULL, aof_fsync_main, NULL) == 0)
            aof_fsyncer_on = true;
    }
    for (int i = 0; i < nshards; i++)
        specs[i] = (ax_sup_spec){.name = "shard", .start = shard_start,
                                 .arg = (void *)(intptr_t)i,
                                 .loop = ax_loop_at(i),
                                 .actor = {.capacity = SHARD_MAILBOX}};
    if ((rc = ax_sup_start(NULL, &sup, specs, (size_t)nshards))) {
        fprintf(stderr, "kv-server: ax_sup_start: %s\n", ax_strerror(rc));
        return ax_task_fail(rc);
    }
    ax_task *metrics = NULL;
    if (metrics_port >= 0 &&
        (rc = srv_metrics_start("kv-server", metrics_port, &metrics)))
        return ax_task_fail(rc);
    rc = ax_serve(cfg.host, cfg.port, serve_conn, NULL, &so);
    srv_metrics_stop(metrics);
    if (rc == AX_ECANCELED)
        return NULL; /* SIGINT or SIGTERM */
    fprintf(stderr, "kv-server: cannot serve on %s:%d: %s\n", cfg.host,
            cfg.port, ax_strerror(rc));
    return ax_task_fail(rc);
}

int main(int argc, char **argv)
{
    static const srv_choice fsync_modes[] = {{"always", FSYNC_ALWAYS},
                                             {"everysec", FSYNC_EVERYSEC},
                                             {"no", FSYNC_NO},
                                             {NULL, 0}};
    int fsync_mode = FSYNC_EVERYSEC;
    const srv_opt own[] = {
        {.name = "max-bulk", .meta = "BYTES", .kind = SRV_BYTES,
         .dst = &cfg.max_bulk, .min = 1, .max = (double)MAX_BULK_HARD,
         .help = "longest bulk string accepted, K/M/G suffixes allowed\n"
                 "(default 64M, at most 512M)"},
        {.name = "output-limit", .meta = "BYTES", .kind = SRV_BYTES,
         .dst = &cfg.output_limit, .min = 0, .max = (double)((size_t)1 << 40),
         .help = "close a client whose pending replies pass this\n"
                 "(Redis's client-output-buffer-limit, hard; default\n"
                 "256M, 0: no limit)"},
        {.name = "timeout", .meta = "SECONDS", .kind = SRV_SECONDS,
         .dst = &cfg.timeout, .min = 0, .max = 1e9,
         .help = "close a client idle for this long (Redis's\n"
                 "timeout; default 0: never)"},
        {.name = "debug", .kind = SRV_FLAG, .dst = &cfg.debug,
         .help = "accept DEBUG CRASH-SHARD n (makes shard n fail,\n"
                 "for tests of its supervisor)"},
        {.name = "aof", .meta = "FILE", .kind = SRV_STRING, .dst = &aof.path,
         .help = "append every change to FILE and replay it at start\n"
                 "(BGREWRITEAOF compacts it in the background)"},
        {.name = "appendfsync", .meta = "M", .kind = SRV_CHOICE,
         .dst = &fsync_mode, .choices = fsync_modes,
         .help = "always: on disk before the reply; everysec: fsync\n"
                 "once a second (default); no: when the kernel likes"},
        SRV_METRICS_OPT(&metrics_port),
        {.name = NULL}};
    srv_cli cli = {.prog = "kv-server",
                   .about = "a RESP2 (Redis protocol) key-value server, "
                            "one shard per loop",
                   .host = cfg.host, .port = cfg.port, .loops = cfg.loops,
                   .opts = own};
    ax_opts opts = {0};
    int rc;

    if ((rc = srv_parse(&cli, argc, argv)) >= 0)
        return rc;
    cfg.host = cli.host;
    cfg.port = cli.port;
    cfg.loops = cli.loops;
    aof.mode = fsync_mode;
    opts.loops = cfg.loops;
    rc = ax_run_with(&opts, main_task, NULL, NULL);
    /* The loops have stopped: no shard writes any more. */
    atomic_store(&aof_stop, true);
    if (aof_fsyncer_on)
        pthread_join(aof_fsyncer, NULL);
    if (aof_rewriter_on)
        pthread_join(aof_rewriter, NULL);
    for (int i = 0; i < AX_LOOPS_MAX; i++)
        if (preload[i]) {
            table_clear(preload[i], false);
            free(preload[i]->b);
            free(preload[i]);
        }
    if (aof.fd >= 0) {
        if (fsync(aof.fd) != 0)
            fprintf(stderr, "kv-server: %s: fsync: %s\n", aof.path,
                    strerror(errno));
        close(aof.fd);
    }
    if (rc && rc != AX_ECANCELED) {
        fprintf(stderr, "kv-server: %s\n", ax_strerror(rc));
        return 1;
    }
    return 0;
}
