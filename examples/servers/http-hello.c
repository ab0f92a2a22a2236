/* SPDX-License-Identifier: MIT */
/*
 * http-hello: an HTTP/1.1 server that answers every request with
 * "Hello, World!", for benchmarks against nginx and evhttp.
 *
 *   http-hello [--host H] [--port N] [--loops N] [--mode reuseport|acceptor]
 *              [--tls CERT KEY] [--root DIR] [--idle-timeout S] [--metrics PORT]
 *              [--shared-stacks] [--park-idle]
 *
 * One task per connection (ax_serve spreads them over the loops). The task
 * reads a request head with ax_read_until(conn, "\r\n\r\n"), answers from a
 * preformatted response, and keeps the connection open (HTTP/1.1 default,
 * HTTP/1.0 with "Connection: keep-alive"). A request that arrives alone
 * is answered straight from the preformatted response, with no copy and no
 * allocation. Pipelined requests already in the socket's buffer are
 * answered together: responses are appended to a batch (a buffer taken for
 * it, given back before the next wait) and written with one ax_write_all()
 * when nothing complete is left to read. An idle keep-alive connection
 * holds no buffer (see serve_conn and ax_read_until).
 *
 *  - header block larger than 8 KiB          -> 431, close
 *  - malformed request line or bad version   -> 400, close
 *  - body (Content-Length or chunked) > 1 MiB -> 413, close; smaller bodies
 *    are read and discarded
 *  - other Transfer-Encodings                 -> 501, close
 *  - chunk data not followed by CRLF          -> 400, close
 *  - 30 s without a complete request head     -> close (slowloris; an idle
 *    keep-alive connection too; --idle-timeout)
 *  - a body not complete within --request-timeout (30 s) of its head
 *    -> close: the deadline is for the whole body, so a body trickled a
 *    byte at a time cannot hold a connection open
 *
 * --root DIR serves the files under DIR instead (GET and HEAD; other
 * methods 405): 200 with Content-Length and a Content-Type from a small
 * table of extensions, the body sent with sendfile(2) (ax_sendfile); 404
 * for a missing name; 403 for a directory without index.html, a symbolic
 * link (never followed: the path is opened a segment at a time with
 * O_NOFOLLOW, below the root's descriptor) or anything not a regular
 * file; 400 for a ".." segment (also percent-encoded), %00 or a bad
 * percent escape; 301 to "NAME/" for a directory named without its final
 * slash. Opening a file and sendfile(2) run on the loop: fine for files
 * in the page cache, which is what a static server mostly sends.
 *
 * --tls CERT KEY serves HTTPS instead (libaxon-tls; PEM files): each
 * connection task runs the TLS handshake first, with a 10 s deadline, and
 * ends with close_notify. Builds without OpenSSL refuse the option.
 *
 * --shared-stacks runs the connection tasks on their loops' shared stacks
 * (ax_serve_opts.shared_stack): an idle keep-alive connection keeps the
 * few hundred bytes of stack it uses instead of a resident page
 * (bench/idle.sh), and a switch between connections copies their bytes.
 * Not with --tls (OpenSSL's frames are deep: every park would copy
 * kilobytes).
 *
 * --park-idle parks an idle keep-alive connection instead of keeping its
 * task waiting (ax_serve_park()): once a response is out and nothing of
 * the next request has come, the task ends, and the next bytes start
 * resume() in a new task. An idle connection then holds its socket, the
 * socket's event and ax_serve()'s record (bench/idle.sh): no task, no
 * stack. --idle-timeout becomes the park's deadline. Not with --tls (the
 * TLS layer's state is not parked).
 *
 * --metrics PORT serves the runtime's statistics in Prometheus text on
 * http://127.0.0.1:PORT/metrics (examples/servers/metrics.h).
 *
 * SIGINT/SIGTERM stop it: the main task is cancelled, ax_serve() cancels
 * the connections and returns AX_ECANCELED, and the process exits 0.
 */
#include "cli.h"
#include "metrics.h"

#include <axon.h>
#if AXON_HAVE_TLS
#include <axon/tls.h>
#endif
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEAD ((size_t)8192)         /* request line + headers */
#define MAX_BODY ((size_t)1 << 20)      /* 1 MiB */
/* Seconds for a request head, idle keep-alive included (--idle-timeout). */
static double idle_timeout = 30.0;
/* Seconds for a whole request body, from the end of its head
 * (--request-timeout). */
static double request_timeout = 30.0;
#define WRITE_TIMEOUT 30.0
#define BATCH 16384                     /* bytes of responses per write */
#define LINGER_TIMEOUT 2.0              /* after an error response */
#define LINGER_BYTES ((size_t)4 << 20)
#define HANDSHAKE_TIMEOUT 10.0          /* --tls: seconds for a handshake */

#define HELLO "Hello, World!"
#define HEAD_COMMON                                                           \
    "HTTP/1.1 200 OK\r\n"                                                     \
    "Content-Type: text/plain\r\n"                                            \
    "Content-Length: 13\r\n"

/* Preformatted responses; sizeof - 1 is their length. */
static const char RESP_KEEP[] = HEAD_COMMON "\r\n" HELLO;
static const char RESP_KEEP10[] =
    HEAD_COMMON "Connection: keep-alive\r\n\r\n" HELLO;
static const char RESP_CLOSE[] = HEAD_COMMON "Connection: close\r\n\r\n" HELLO;
/* The same without the body, for HEAD. */
static const char HRESP_KEEP[] = HEAD_COMMON "\r\n";
static const char HRESP_KEEP10[] = HEAD_COMMON "Connection: keep-alive\r\n\r\n";
static const char HRESP_CLOSE[] = HEAD_COMMON "Connection: close\r\n\r\n";

#define ERROR_RESPONSE(status)                                                \
    "HTTP/1.1 " status "\r\n"                                                 \
    "Content-Type: text/plain\r\n"                                            \
    "Content-Length: 0\r\n"                                                   \
    "Connection: close\r\n\r\n"

static const char RESP_400[] = ERROR_RESPONSE("400 Bad Request");
static const char RESP_413[] = ERROR_RESPONSE("413 Content Too Large");
static const char RESP_414[] = ERROR_RESPONSE("414 URI Too Long");
static const char RESP_431[] =
    ERROR_RESPONSE("431 Request Header Fields Too Large");
static const char RESP_501[] = ERROR_RESPONSE("501 Not Implemented");

typedef struct config {
    const char *host;
    int port;
    int loops; /* AX_LOOPS_PER_CPU or N */
    ax_serve_mode mode;
    const char *tls_cert, *tls_key; /* --tls */
#if AXON_HAVE_TLS
    ax_tls_ctx *tls;
#endif
} config;

/* A connection: the socket, and its TLS layer with --tls. */
typedef struct conn {
    ax_sock *s;
#if AXON_HAVE_TLS
    ax_tls *t;
#endif
} conn;

#if AXON_HAVE_TLS
#define TLS_OR(c, tls_call, plain_call) ((c)->t ? (tls_call) : (plain_call))
#else
#define TLS_OR(c, tls_call, plain_call) (plain_call)
#endif

static ssize_t c_read(conn *c, void *buf, size_t n, double timeout)
{
    return TLS_OR(c, ax_tls_read(c->t, buf, n, timeout),
                  ax_read(c->s, buf, n, timeout));
}

static int c_read_until(conn *c, const char *delim, char **line, size_t *len,
                        size_t max, double timeout)
{
    return TLS_OR(c, ax_tls_read_until(c->t, delim, line, len, max, timeout),
                  ax_read_until(c->s, delim, line, len, max, timeout));
}

/* The body's reads share one deadline (--request-timeout). */
static ssize_t c_read_dl(conn *c, void *buf, size_t n, int64_t dl)
{
    return TLS_OR(c, ax_tls_read_dl(c->t, buf, n, dl),
                  ax_read_dl(c->s, buf, n, dl));
}

static int c_read_exact_dl(conn *c, void *buf, size_t n, int64_t dl)
{
    return TLS_OR(c, ax_tls_read_exact_dl(c->t, buf, n, dl),
                  ax_read_exact_dl(c->s, buf, n, dl));
}

static int c_read_until_dl(conn *c, const char *delim, char **line,
                           size_t *len, size_t max, int64_t dl)
{
    return TLS_OR(c, ax_tls_read_until_dl(c->t, delim, line, len, max, dl),
                  ax_read_until_dl(c->s, delim, line, len, max, dl));
}

static int c_write_all(conn *c, const void *buf, size_t n, double timeout)
{
    return TLS_OR(c, ax_tls_write_all(c->t, buf, n, timeout),
                  ax_write_all(c->s, buf, n, timeout));
}

static size_t c_buffered(conn *c)
{
    return TLS_OR(c, ax_tls_buffered(c->t), ax_buffered(c->s));
}

static bool c_tls(conn *c)
{
    (void)c;
    return TLS_OR(c, true, false);
}

/* What the head of one request asks for. */
typedef struct request {
    bool head;      /* method HEAD: no body in the response */
    bool get;       /* method GET */
    bool keepalive; /* after the response, read the next request */
    bool chunked;   /* Transfer-Encoding: chunked */
    bool has_len;
    bool v10;        /* HTTP/1.0: keep-alive must be confirmed */
    size_t body_len; /* Content-Length */
    const char *target; /* the request target, in the head's buffer */
    size_t target_len;
} request;

enum { PARSE_OK = 0, PARSE_BAD = 400, PARSE_TOO_LARGE = 413, PARSE_TE = 501 };

/* RFC 9110 token characters: ALPHA, DIGIT and !#$%&'*+-.^_`|~, one bit
 * per character below 128 (a strchr() per character was about 140
 * instructions of every request: callgrind). */
static bool is_tchar(unsigned char c)
{
    static const uint64_t below64 = 0x03ff6cfa00000000u;
    static const uint64_t below128 = 0x57ffffffc7fffffeu;

    if (c < 64)
        return (below64 >> c) & 1;
    return c < 128 && ((below128 >> (c - 64)) & 1);
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* Does the comma-separated list [v, end) contain the token @p tok? */
static bool list_has(const char *v, const char *end, const char *tok)
{
    size_t k = strlen(tok);

    while (v < end) {
        const char *e;
        while (v < end && (is_ows(*v) || *v == ','))
            v++;
        e = v;
        while (e < end && *e != ',')
            e++;
        const char *t = e;
        while (t > v && is_ows(t[-1]))
            t--;
        if ((size_t)(t - v) == k && strncasecmp(v, tok, k) == 0)
            return true;
        v = e;
    }
    return false;
}

/*
 * Parse a request head [p, p+n) ending in "\r\n\r\n" (any leading empty
 * lines already skipped). Fills @p rq; returns PARSE_OK or a status.
 */
static int parse_head(const char *p, size_t n, request *rq)
{
    const char *end = p + n - 2; /* the final empty line's CRLF */
    const char *s = p, *eol;
    int minor;
    bool close = false, keep = false;

    memset(rq, 0, sizeof *rq);
    /* Request line: METHOD SP TARGET SP HTTP/1.x CRLF */
    while (s < end && is_tchar((unsigned char)*s))
        s++;
    if (s == p || s >= end || *s != ' ')
        return PARSE_BAD;
    rq->head = (s - p == 4 && memcmp(p, "HEAD", 4) == 0);
    rq->get = (s - p == 3 && memcmp(p, "GET", 3) == 0);
    const char *target = ++s;
    while (s < end && (unsigned char)*s > ' ' && *s != 0x7f)
        s++;
    if (s == target || s >= end || *s != ' ')
        return PARSE_BAD;
    rq->target = target;
    rq->target_len = (size_t)(s - target);
    s++;
    if (end - s < 10 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' ||
        s[7] > '9' || s[8] != '\r' || s[9] != '\n')
        return PARSE_BAD;
    minor = s[7] - '0';
    s += 10;

    /* Header fields: name ":" OWS value OWS CRLF */
    for (; s < end; s = eol + 2) {
        const char *name = s, *colon, *v, *ve;
        eol = memchr(s, '\r', (size_t)(end - s));
        if (!eol || eol[1] != '\n')
            return PARSE_BAD;
        while (s < eol && is_tchar((unsigned char)*s))
            s++;
        if (s == name || s == eol || *s != ':')
            return PARSE_BAD; /* also catches obs-fold and "name :" */
        colon = s;
        v = colon + 1;
        while (v < eol && is_ows(*v))
            v++;
        ve = eol;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        size_t nl = (size_t)(colon - name);
        /* Compare only the names of interest (by length first). */
        if (nl == 10 && strncasecmp(name, "connection", 10) == 0) {
            close |= list_has(v, ve, "close");
            keep |= list_has(v, ve, "keep-alive");
        } else if (nl == 14 && strncasecmp(name, "content-length", 14) == 0) {
            size_t len = 0;
            if (v == ve)
                return PARSE_BAD;
            for (const char *d = v; d < ve; d++) {
                if (*d < '0' || *d > '9')
                    return PARSE_BAD;
                if (len > MAX_BODY)
                    continue; /* keep validating, value is too large */
                len = len * 10 + (size_t)(*d - '0');
            }
            if (rq->has_len && rq->body_len != len)
                return PARSE_BAD; /* conflicting lengths */
            rq->has_len = true;
            rq->body_len = len;
        } else if (nl == 17 &&
                   strncasecmp(name, "transfer-encoding", 17) == 0) {
            /* Only "chunked" alone is understood. */
            if ((size_t)(ve - v) != 7 || strncasecmp(v, "chunked", 7) != 0)
                return PARSE_TE;
            rq->chunked = true;
        }
    }
    if (rq->chunked && rq->has_len)
        return PARSE_BAD; /* request smuggling: refuse */
    if (rq->has_len && rq->body_len > MAX_BODY)
        return PARSE_TOO_LARGE;
    rq->v10 = minor == 0;
    rq->keepalive = minor >= 1 ? !close : (keep && !close);
    return PARSE_OK;
}

/* Read and drop @p n bytes of body, by the body's deadline @p dl. */
static int discard(conn *c, size_t n, int64_t dl)
{
    char sink[4096];

    while (n) {
        ssize_t r = c_read_dl(c, sink, n < sizeof sink ? n : sizeof sink,
                              dl);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return AX_EPIPE;
        n -= (size_t)r;
    }
    return 0;
}

/* Read and drop a chunked body (sizes, data, trailers) by @p dl.
 * @return 0, PARSE_BAD, PARSE_TOO_LARGE, or a negative socket code. */
static int discard_chunked(conn *c, int64_t dl)
{
    size_t total = 0;
    char *line, crlf[2];
    size_t len;
    int rc;

    for (;;) {
        size_t sz = 0;
        int digits = 0;
        if ((rc = c_read_until_dl(c, "\r\n", &line, &len, 1024, dl)))
            return rc == AX_E2BIG ? PARSE_BAD : rc;
        for (size_t i = 0; i < len - 2; i++) {
            char ch = line[i];
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d < 0) {
                if (ch == ';' || is_ows(ch))
                    break; /* chunk extensions: ignored */
                return PARSE_BAD;
            }
            if (++digits > 8)
                return PARSE_TOO_LARGE;
            sz = sz * 16 + (size_t)d;
        }
        if (!digits)
            return PARSE_BAD;
        if (sz == 0)
            break;
        if ((total += sz) > MAX_BODY)
            return PARSE_TOO_LARGE;
        if ((rc = discard(c, sz, dl)))
            return rc;
        /* The data must end with CRLF exactly: anything else means the
         * client and we disagree on where the chunk ends (smuggling). */
        if ((rc = c_read_exact_dl(c, crlf, 2, dl)))
            return rc;
        if (crlf[0] != '\r' || crlf[1] != '\n')
            return PARSE_BAD;
    }
    /* Trailer fields up to an empty line. */
    for (;;) {
        if ((rc = c_read_until_dl(c, "\r\n", &line, &len, MAX_HEAD, dl)))
            return rc == AX_E2BIG ? PARSE_TOO_LARGE : rc;
        if (len == 2)
            return 0;
    }
}

static int flush(conn *c, const char *buf, size_t *n)
{
    int rc = 0;

    if (*n) {
        rc = c_write_all(c, buf, *n, WRITE_TIMEOUT);
        *n = 0;
    }
    return rc;
}

/* Append an error response to what is pending, write it all, give up. */
static void fail(conn *c, char *out, size_t *olen, int status)
{
    const char *r = status == PARSE_TOO_LARGE ? RESP_413
                    : status == PARSE_TE      ? RESP_501
                    : status == 431           ? RESP_431
                    : status == 414           ? RESP_414
                                              : RESP_400;
    size_t n = strlen(r);

    if (*olen + n > BATCH && flush(c, out, olen))
        return;
    memcpy(out + *olen, r, n);
    *olen += n;
    if (flush(c, out, olen))
        return;
    /* Closing with unread input would make the kernel send a reset, and
     * the client could lose the response: send FIN first, then read and
     * drop what the client still sends, for a short while. */
#if AXON_HAVE_TLS
    if (c->t && ax_tls_shutdown(c->t, false, LINGER_TIMEOUT))
        return;
#endif
    if (shutdown(ax_sock_fd(c->s), SHUT_WR) == 0) {
        size_t left = LINGER_BYTES;
        while (left) {
            ssize_t r = c_read(c, out, BATCH, LINGER_TIMEOUT);
            if (r <= 0)
                break;
            left = (size_t)r < left ? left - (size_t)r : 0;
        }
    }
}

/* ---- --root DIR: static files ------------------------------------------- */

/* The served directory (--root), or -1: say Hello, World! instead. */
static int root_fd = -1;
static bool park_idle; /* --park-idle */
static void resume(ax_sock *s, void *arg, int status);

#define MAX_TARGET ((size_t)2048) /* longer request targets: 414 */
#define FILE_CHUNK ((size_t)1 << 20) /* bytes per sendfile deadline */

/* A small Content-Type table, by file name extension; anything else is
 * application/octet-stream. */
static const char *content_type(const char *name)
{
    static const char *const types[][2] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"css", "text/css"},
        {"js", "text/javascript"},
        {"json", "application/json"},
        {"xml", "application/xml"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"wasm", "application/wasm"},
        {"pdf", "application/pdf"},
    };
    const char *dot = strrchr(name, '.');

    if (dot && dot != name)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i][0]) == 0)
                return types[i][1];
    return "application/octet-stream";
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* An open() error as a status: a name that is not there is 404; one we
 * may not open, or a symbolic link (O_NOFOLLOW: ELOOP), is 403. */
static int open_status(int e)
{
    return e == ENOENT || e == ENOTDIR || e == ENAMETOOLONG ? 404
           : e == EACCES || e == EPERM || e == ELOOP        ? 403
                                                            : 500;
}

/* Close a descriptor resolve() opened (never the root's). */
static void drop(int fd)
{
    if (fd != root_fd)
        close(fd);
}

/*
 * Find the file for the request target @p t (NUL-terminated, changed in
 * place): the path is percent-decoded and opened one segment at a time
 * with openat(..., O_NOFOLLOW) from the root's descriptor, so that no
 * name can leave the root: ".." segments (also "%2e%2e") and NUL bytes
 * are refused with 400, an absolute path is just a path under the root,
 * and a symbolic link anywhere is not followed (403, as nginx says with
 * `disable_symlinks on`). A directory is served as its index.html, or
 * 403 without one; named without its final '/', it is a 301 to the name
 * with it. On 200 *@p fd is the open file and *@p st its status;
 * *@p name is the last segment, for the Content-Type.
 */
static int resolve(char *t, int *fd, struct stat *st, const char **name)
{
    char *q, *seg, *w;
    int cur, nfd;
    bool slash_end;

    *fd = -1;
    *name = "";
    if ((q = strpbrk(t, "?#")))
        *q = '\0';
    if (t[0] != '/')
        return 400; /* absolute-form and "*" targets are not files */
    /* Decode in place (the result is never longer). */
    for (q = w = t; *q; q++) {
        if (*q == '%') {
            int hi = hexval(q[1]), lo = hi < 0 ? -1 : hexval(q[2]);
            if (lo < 0 || (hi | lo) == 0)
                return 400; /* malformed, or %00 */
            *w++ = (char)(hi * 16 + lo);
            q += 2;
        } else {
            *w++ = *q;
        }
    }
    *w = '\0';
    slash_end = w[-1] == '/';
    /* cur is root_fd itself until the first name is opened: one system
     * call less per request than opening "." first. */
    cur = root_fd;
    for (seg = t; seg;) {
        char *next;
        while (*seg == '/')
            seg++;
        if (!*seg)
            break;
        if ((next = strchr(seg, '/')))
            *next++ = '\0';
        if (strcmp(seg, ".") == 0) {
            seg = next;
            continue;
        }
        if (strcmp(seg, "..") == 0) {
            drop(cur);
            return 400;
        }
        /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
        nfd = openat(cur, seg, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
                                   O_NONBLOCK | (next ? O_DIRECTORY : 0));
        if (nfd < 0) {
            int e = errno;
            drop(cur);
            return open_status(e);
        }
        drop(cur);
        cur = nfd;
        *name = seg;
        seg = next;
    }
    if (fstat(cur, st) < 0) {
        drop(cur);
        return 500;
    }
    if (S_ISDIR(st->st_mode)) {
        if (!slash_end) {
            drop(cur);
            return 301;
        }
        nfd = openat(cur, "index.html",
                     O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        int e = errno;
        drop(cur);
        if (nfd < 0)
            return e == ENOENT ? 403 : open_status(e);
        cur = nfd;
        *name = "index.html";
        if (fstat(cur, st) < 0) {
            drop(cur);
            return 500;
        }
    }
    if (!S_ISREG(st->st_mode)) {
        drop(cur);
        return 403; /* a device, a socket, a FIFO */
    }
    *fd = cur;
    return 200;
}

/* The body: sendfile(2) on a plain connection; over TLS the bytes must
 * pass through OpenSSL, so they are read (page cache) and written.
 * Each FILE_CHUNK gets its own write deadline, so a large file to a slow
 * but live client is not cut off. @return 0 or a negative code. */
static int send_body(conn *c, int fd, off_t size, char *buf)
{
    off_t off = 0;

    while (off < size) {
        size_t want = (size_t)(size - off) < FILE_CHUNK
                          ? (size_t)(size - off) : FILE_CHUNK;
        int64_t dl = ax_deadline_in(WRITE_TIMEOUT);
#if AXON_HAVE_TLS
        if (c->t) {
            ssize_t r = pread(fd, buf, want < BATCH ? want : BATCH, off);
            if (r <= 0)
                return r < 0 ? -errno : AX_EPIPE; /* the file shrank */
            int rc = ax_tls_write_all_dl(c->t, buf, (size_t)r, dl);
            if (rc)
                return rc;
            off += r;
            continue;
        }
#endif
        (void)buf;
        ssize_t n = ax_sendfile(c->s, fd, &off, want, dl);
        if (n < 0)
            return (int)n;
        if ((size_t)n < want)
            return AX_EPIPE; /* the file shrank: Content-Length is a lie */
    }
    return 0;
}

/* flush() for a head that a body follows: on a plain connection the
 * head goes out with MSG_MORE, so that it leaves in one packet with the
 * start of the sendfile(2) data instead of a small packet of its own
 * (TCP_NODELAY is on). What the socket does not take at once is written
 * as usual. */
static int flush_more(conn *c, char *buf, size_t *n)
{
#if AXON_HAVE_TLS
    if (c->t)
        return flush(c, buf, n);
#endif
    ssize_t w = send(ax_sock_fd(c->s), buf, *n, MSG_MORE | MSG_DONTWAIT |
                                                     MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return -errno;
    if (w > 0 && (size_t)w < *n)
        memmove(buf, buf + w, *n - (size_t)w);
    if (w > 0)
        *n -= (size_t)w;
    return flush(c, buf, n);
}

/*
 * Answer one request from --root: the response head goes into the batch
 * @p out (after what is pending), and for a 200 GET the batch is written
 * and the file sent after it. @p target is a NUL-terminated copy of the
 * request target. @return 0 to go on with the connection, or a negative
 * code to close it.
 */
static int serve_file(conn *c, char *out, size_t *olen, const request *rq,
                      char *target)
{
    char loc[MAX_TARGET + 2], body[64];
    const char *conn_hdr = !rq->keepalive ? "Connection: close\r\n"
                           : rq->v10      ? "Connection: keep-alive\r\n"
                                          : "";
    const char *name = "", *reason;
    struct stat st;
    int status, fd = -1, n, rc = 0;

    /* The raw path (no query), for a directory's redirect. */
    n = (int)strcspn(target, "?#");
    snprintf(loc, sizeof loc, "%.*s/", n, target);
    status = rq->get || rq->head ? resolve(target, &fd, &st, &name) : 405;
    reason = status == 200   ? "OK"
             : status == 301 ? "Moved Permanently"
             : status == 400 ? "Bad Request"
             : status == 403 ? "Forbidden"
             : status == 404 ? "Not Found"
             : status == 405 ? "Method Not Allowed"
                             : "Internal Server Error";
    if (*olen + 512 + sizeof loc > BATCH && (rc = flush(c, out, olen)))
        goto done;
    if (status == 200) {
        n = snprintf(out + *olen, BATCH - *olen,
                     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                     "Content-Length: %lld\r\n%s\r\n",
                     content_type(name), (long long)st.st_size, conn_hdr);
    } else {
        int bl = snprintf(body, sizeof body, "%d %s\n", status, reason);
        n = snprintf(out + *olen, BATCH - *olen,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %d\r\n%s%s%s%s%s\r\n%s",
                     status, reason, bl, status == 301 ? "Location: " : "",
                     status == 301 ? loc : "", status == 301 ? "\r\n" : "",
                     status == 405 ? "Allow: GET, HEAD\r\n" : "", conn_hdr,
                     rq->head ? "" : body);
    }
    *olen += (size_t)n;
    if (status == 200 && !rq->head && st.st_size > 0) {
        if ((rc = flush_more(c, out, olen)))
            goto done;
        rc = send_body(c, fd, st.st_size, out);
    }
done:
    if (fd >= 0)
        close(fd);
    return rc;
}

/*
 * The batch of responses and, with --root, the copy of a request target
 * are on the heap, not the connection task's stack: a 16 KiB array in the
 * frame costs its pages for the task's whole life (the compiler probes
 * every page of a large frame, -fstack-clash-protection, and the calls
 * below it touch pages further down), with an idle keep-alive connection
 * using none of it. The batch is taken when a response must wait behind
 * another (pipelined requests), for an error response and for a file's
 * head, and given back before the connection waits for its next request:
 * a request that arrives alone is answered straight from the
 * preformatted response.
 */
static char *batch(char **out)
{
    if (!*out)
        *out = malloc(BATCH);
    return *out;
}

static void serve_loop(conn *c, char **outp, char *target)
{
    size_t olen = 0;
    bool waited = false; /* parked only after a request: resume() reads */

    for (;;) {
        char *head;
        size_t len;
        request rq;
        int rc;

        /* Responses are pending only while more requests were buffered:
         * try to take the next request without waiting (timeout 0); if
         * it is not all there yet, send what we have first. */
        rc = AX_ETIMEDOUT;
        if (olen)
            rc = c_read_until(c, "\r\n\r\n", &head, &len, MAX_HEAD, 0);
        if (rc == AX_ETIMEDOUT) {
            if (flush(c, *outp, &olen))
                return;
            free(*outp);
            *outp = NULL;
            /* --park-idle: nothing half-read, so the connection waits for
             * its next request without this task (resume() goes on). */
            if (park_idle && waited && !c_tls(c) && c_buffered(c) == 0 &&
                ax_serve_park(c->s, resume, NULL,
                              ax_deadline_in(idle_timeout)) == 0)
                return;
            rc = c_read_until(c, "\r\n\r\n", &head, &len, MAX_HEAD,
                               idle_timeout);
        }
        if (rc == AX_E2BIG) {
            if (batch(outp))
                fail(c, *outp, &olen, 431);
            return;
        }
        if (rc) {
            /* End of stream, timeout, reset, or the server is stopping. */
            if (rc != AX_ECANCELED)
                flush(c, *outp, &olen);
            return;
        }
        waited = true;
        /* Empty lines before a request line are allowed (RFC 9112 2.2). */
        while (len >= 2 && head[0] == '\r' && head[1] == '\n') {
            head += 2;
            len -= 2;
        }
        if (len < 4)
            continue; /* only empty lines: nothing asked yet */
        if ((rc = parse_head(head, len, &rq))) {
            if (batch(outp))
                fail(c, *outp, &olen, rc);
            return;
        }
        /* The target lives in the socket's buffer, which the body's reads
         * reuse: keep a copy. */
        if (root_fd >= 0) {
            if (rq.target_len >= MAX_TARGET) {
                if (batch(outp))
                    fail(c, *outp, &olen, 414);
                return;
            }
            memcpy(target, rq.target, rq.target_len);
            target[rq.target_len] = '\0';
        }
        /* A body: drop it (head points into the socket's buffer and is
         * invalid from here on, but everything needed is in rq). */
        if (rq.has_len && rq.body_len) {
            if (discard(c, rq.body_len, ax_deadline_in(request_timeout))) {
                flush(c, *outp, &olen);
                return;
            }
        } else if (rq.chunked) {
            if ((rc = discard_chunked(c, ax_deadline_in(request_timeout)))) {
                if (rc > 0 && batch(outp))
                    fail(c, *outp, &olen, rc);
                else
                    flush(c, *outp, &olen);
                return;
            }
        }

        if (root_fd >= 0) {
            if (!batch(outp) || serve_file(c, *outp, &olen, &rq, target))
                return;
            if (!rq.keepalive) {
                flush(c, *outp, &olen);
                return;
            }
            if (c_buffered(c) == 0 && flush(c, *outp, &olen))
                return;
            continue;
        }

        const char *r;
        size_t n;
        if (!rq.keepalive) {
            r = rq.head ? HRESP_CLOSE : RESP_CLOSE;
            n = rq.head ? sizeof HRESP_CLOSE - 1 : sizeof RESP_CLOSE - 1;
        } else if (rq.v10) {
            r = rq.head ? HRESP_KEEP10 : RESP_KEEP10;
            n = rq.head ? sizeof HRESP_KEEP10 - 1 : sizeof RESP_KEEP10 - 1;
        } else {
            r = rq.head ? HRESP_KEEP : RESP_KEEP;
            n = rq.head ? sizeof HRESP_KEEP - 1 : sizeof RESP_KEEP - 1;
        }
        /* Alone (nothing pending, nothing else buffered): answered at
         * once, without a copy. */
        if (!olen && (!rq.keepalive || c_buffered(c) == 0)) {
            if (c_write_all(c, r, n, WRITE_TIMEOUT) || !rq.keepalive)
                return;
            continue;
        }
        if (olen + n > BATCH && flush(c, *outp, &olen))
            return;
        if (!batch(outp))
            return;
        memcpy(*outp + olen, r, n);
        olen += n;
        if (!rq.keepalive) {
            flush(c, *outp, &olen);
            return;
        }
        /* Nothing else buffered: answer now, before blocking on a read. */
        if (c_buffered(c) == 0 && flush(c, *outp, &olen))
            return;
    }
}

static void serve_conn(conn *c);

/* --park-idle: a parked connection's next request, in a new task. Its
 * whole state is the socket (arg is unused): nothing else survives. */
static void resume(ax_sock *s, void *arg, int status)
{
    conn c = {.s = s};

    (void)arg;
    if (status == 0) /* else the idle timeout, or the server stops */
        serve_conn(&c);
}

static void serve_conn(conn *c)
{
    char *out = NULL, *target = NULL;

    if (root_fd >= 0 && !(target = malloc(MAX_TARGET)))
        return;
    serve_loop(c, &out, target);
    free(out);
    free(target);
}

static void handle(ax_sock *s, void *arg)
{
    conn c = {.s = s};

#if AXON_HAVE_TLS
    config *cfg = arg;
    if (cfg->tls) {
        /* A client that never finishes its handshake is dropped. */
        if (ax_tls_accept(&c.t, cfg->tls, s, HANDSHAKE_TIMEOUT))
            return;
        serve_conn(&c);
        ax_tls_close(c.t); /* close_notify if still healthy */
        return;
    }
#else
    (void)arg;
#endif
    serve_conn(&c);
}

static void ready(int port, void *arg)
{
    config *cfg = arg;

    printf("listening on %s:%d\n", cfg->host, port);
    fflush(stdout);
}

static int serve_rc = 1; /* ax_serve's code, once it has returned */
static bool shared_stacks; /* --shared-stacks */
static int metrics_port = -1; /* --metrics */

static void *main_task(void *arg)
{
    config *cfg = arg;
    ax_serve_opts so = {.mode = cfg->mode, .ready = ready,
                        .shared_stack = shared_stacks};
    int rc;

#if AXON_HAVE_TLS
    if (cfg->tls_cert) {
        ax_tls_opts to = {.cert_file = cfg->tls_cert,
                          .key_file = cfg->tls_key, .alpn = "http/1.1"};
        if ((rc = ax_tls_ctx_new(&cfg->tls, AX_TLS_SERVER, &to))) {
            fprintf(stderr, "http-hello: --tls: %s: %s\n", ax_strerror(rc),
                    ax_tls_last_error());
            return ax_task_fail(rc);
        }
        so.stack_size = AX_TLS_STACK_SIZE;
    }
#endif

    if ((rc = ax_stop_on_signals())) {
        fprintf(stderr, "http-hello: ax_stop_on_signals: %s\n",
                ax_strerror(rc));
        return ax_task_fail(rc);
    }
    if ((rc = srv_dump_on_sigquit("http-hello")))
        return ax_task_fail(rc);
    ax_task *metrics = NULL;
    if (metrics_port >= 0 &&
        (serve_rc = rc = srv_metrics_start("http-hello", metrics_port,
                                            &metrics))) {
        /* (reported: serve_rc keeps main() from saying it again) */
#if AXON_HAVE_TLS
        ax_tls_ctx_free(cfg->tls);
#endif
        return ax_task_fail(rc);
    }
    serve_rc = rc = ax_serve(cfg->host, cfg->port, handle, cfg, &so);
    srv_metrics_stop(metrics);
#if AXON_HAVE_TLS
    ax_tls_ctx_free(cfg->tls);
#endif
    if (rc != AX_ECANCELED) {
        fprintf(stderr, "http-hello: ax_serve %s:%d: %s\n", cfg->host,
                cfg->port, ax_strerror(rc));
        return ax_task_fail(rc);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const srv_choice modes[] = {{"reuseport", AX_SERVE_REUSEPORT},
                                       {"acceptor", AX_SERVE_ACCEPTOR},
                                       {NULL, 0}};
    int mode = AX_SERVE_REUSEPORT;
    const char *tls_one = NULL; /* --tls given one value only */
    const char *root = NULL;
    const srv_opt own[] = {
        {.name = "mode", .meta = "M", .kind = SRV_CHOICE, .dst = &mode,
         .choices = modes,
         .help = "reuseport: a listener per loop (default);\n"
                 "acceptor: one listener hands connections out"},
        /* Parsed before srv_parse() (two values); the row is the usage. */
        {.name = "tls", .meta = "CERT KEY", .kind = SRV_STRING,
         .dst = &tls_one,
         .help = "serve HTTPS with this PEM certificate chain and key"},
        {.name = "root", .meta = "DIR", .kind = SRV_STRING, .dst = &root,
         .help = "serve the files under DIR (GET and HEAD)\n"
                 "instead of Hello, World!"},
        {.name = "request-timeout", .meta = "SECONDS", .kind = SRV_SECONDS,
         .dst = &request_timeout, .min = 0.001, .max = 86400,
         .help = "a request body must arrive whole within this\n"
                 "of its head, else the connection is closed\n"
                 "(default 30)"},
        {.name = "idle-timeout", .meta = "SECONDS", .kind = SRV_SECONDS,
         .dst = &idle_timeout, .min = 0.001, .max = 86400,
         .help = "close a connection that sends no complete\n"
                 "request head for this long, idle keep-alive\n"
                 "ones included (default 30)"},
        {.name = "shared-stacks", .kind = SRV_FLAG, .dst = &shared_stacks,
         .help = "connection tasks on the loops' shared stacks:\n"
                 "less memory per idle connection (not with --tls)"},
        {.name = "park-idle", .kind = SRV_FLAG, .dst = &park_idle,
         .help = "an idle keep-alive connection holds no task:\n"
                 "parked (ax_serve_park) until its next request\n"
                 "(not with --tls)"},
        SRV_METRICS_OPT(&metrics_port),
        {.name = NULL}};
    srv_cli cli = {.prog = "http-hello",
                   .about = "an HTTP/1.1 server that says Hello, World!",
                   .host = "127.0.0.1", .port = 8080,
                   .loops = AX_LOOPS_PER_CPU, .opts = own};
    config cfg;
    ax_opts opts = {0};
    const char *tls_cert = NULL, *tls_key = NULL;
    int rc;

    /* --tls takes two values, which the shared parser does not do: take
     * it out of argv first. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tls") != 0)
            continue;
        if (i + 2 >= argc)
            break; /* srv_parse() reports it, with the usage */
        tls_cert = argv[i + 1];
        tls_key = argv[i + 2];
        memmove(&argv[i], &argv[i + 3],
                (size_t)(argc - i - 2) * sizeof *argv); /* and the NULL */
        argc -= 3;
        i--;
    }
    if ((rc = srv_parse(&cli, argc, argv)) >= 0)
        return rc;
    if (tls_one)
        return srv_usage_error(&cli, "--tls takes two values: --tls CERT KEY");
    if (tls_cert && shared_stacks)
        return srv_usage_error(&cli, "--shared-stacks: not with --tls");
    if (tls_cert && park_idle)
        return srv_usage_error(&cli, "--park-idle: not with --tls");
    if (tls_cert && !AXON_HAVE_TLS)
        return srv_usage_error(&cli, "--tls: axon was built without OpenSSL "
                                     "(configure --with-openssl)");
    if (root && (root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return srv_usage_error(&cli, "--root %s: %s", root, strerror(errno));
    cfg = (config){.host = cli.host, .port = cli.port, .loops = cli.loops,
                   .mode = (ax_serve_mode)mode, .tls_cert = tls_cert,
                   .tls_key = tls_key};
    opts.loops = cfg.loops;
    rc = ax_run_with(&opts, main_task, &cfg, NULL);
    if (rc == AX_ECANCELED && serve_rc == AX_ECANCELED)
        return 0; /* stopped by a signal */
    if (rc) {
        if (rc != serve_rc) /* ax_serve's failure is already reported */
            fprintf(stderr, "http-hello: ax_run: %s\n", ax_strerror(rc));
        return 1;
    }
    return 0;
}
