/* SPDX-License-Identifier: MIT */
/*
 * TLS over OpenSSL: libaxon-tls.
 *
 * This file is a library of its own and sees only libaxon's public API
 * (libaxon.so exports nothing else). OpenSSL does the I/O itself, through
 * a small BIO of ours on the socket (ax_try_read(), ax_try_write()); when
 * it says WANT_READ or WANT_WRITE the task waits with ax_sock_wait_dl(),
 * which is exactly "the call said EAGAIN, wait for the next edge". So a
 * TLS call costs what a plain one does in waiting and in system calls
 * (the socket's calls skip the recv() that would only say EAGAIN after a
 * request was answered): no extra poll, no extra thread.
 *
 * Why our own BIO rather than SSL_set_fd(): OpenSSL's socket BIO writes
 * with write(2), and a write to a peer that has gone raises SIGPIPE, which
 * kills a program that did not ignore it; ours goes through the socket,
 * which sends with MSG_NOSIGNAL, and keeps the socket's knowledge of when
 * it is empty. It also records errno and end of stream for the error
 * codes.
 *
 * OpenSSL's error queue is per thread and the tasks of a loop share the
 * thread; that is safe because every SSL call runs to its return without
 * a task switch: the queue is cleared before each call and read right
 * after it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "axon/error.h"
#include "axon/loop.h"
#include "axon/net.h"
#include "axon/task.h"
#include "axon/time.h"
#include "axon/tls.h"
#include "sock.h"

#define RBUF_MIN 4096

/* A certificate chosen by SNI (ax_tls_ctx_add_cert). An SSL_CTX of its
 * own holds it, so that load_files() loads it as it loads the default. */
typedef struct sni_cert {
    char *name; /* "www.example.com" or "*.example.com" */
    SSL_CTX *holder;
} sni_cert;

struct ax_tls_ctx {
    SSL_CTX *ctx;
    ax_tls_role role;
    /* Connections hold a reference: the ALPN and SNI callbacks read the
     * context. */
    atomic_int refs;
    /* A handshake has started: the SNI table is read without a lock
     * from then on, so it may no longer change. */
    atomic_bool used;
    unsigned char *alpn; /* wire format: length-prefixed names */
    size_t alpn_len;
    sni_cert *sni;
    size_t nsni;
};

struct ax_tls {
    SSL *ssl;
    ax_sock *sock;
    ax_tls_ctx *cx;
    ax_loop *loop;
    bool owns_sock;
    bool reading, writing; /* a task is inside a read / write call */
    bool broken;           /* a fatal TLS or socket error: no more I/O */
    bool wdead;            /* a write failed midway: no more writes */
    bool sent_close;       /* our close_notify went out */
    bool got_close;        /* the peer's close_notify came in */
    bool eof;              /* the BIO saw end of stream */
    bool cork;             /* the BIO keeps writes in wbuf (handshake) */
    int sys_err;           /* errno of the BIO's last failed call */
    char alpn[256];
    /* What the BIO kept while corked: [woff, wlen) is not yet sent. */
    char *wbuf;
    size_t wcap, wlen, woff;
    char *rbuf;
    size_t rcap, rstart, rend;
};

/* ---- the reason text ------------------------------------------------ */

static _Thread_local char last_err[256];

const char *ax_tls_last_error(void) { return last_err; }

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void set_err(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_err, sizeof last_err, fmt, ap);
    va_end(ap);
}

/* OpenSSL's reason for its oldest queued error, then an empty queue. */
static const char *ssl_reason(void)
{
    static _Thread_local char buf[160];
    unsigned long e = ERR_peek_error();
    const char *r;

    if (!e)
        return "no reason given";
    r = ERR_reason_error_string(e);
    if (r)
        snprintf(buf, sizeof buf, "%s", r);
    else
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

/* ---- the BIO ------------------------------------------------------------ */

/* The system call itself, for a BIO call made while another task of the
 * connection waits on the socket in the same direction (the socket's own
 * calls refuse that with AX_EBUSY, since two waiters cannot share it; a
 * call that does not wait may go ahead, as it did before the BIO used
 * them). */
static ssize_t raw_io(ax_tls *t, bool write, char *buf, size_t n)
{
    int fd = ax_sock_fd(t->sock);
    ssize_t r;

    do
        r = write ? send(fd, buf, n, MSG_NOSIGNAL) : recv(fd, buf, n, 0);
    while (r < 0 && errno == EINTR);
    if (r >= 0)
        return r;
    return errno == EAGAIN || errno == EWOULDBLOCK ? AX_EAGAIN : -errno;
}

static int bio_write(BIO *b, const char *buf, int n)
{
    ax_tls *t = BIO_get_data(b);
    ssize_t w;

    BIO_clear_retry_flags(b);
    if (t->cork) {
        /* A handshake writes each flight, and TLS 1.3 each session ticket,
         * with a write of its own; keeping them until the handshake must
         * wait (or ends) sends each batch with one system call. */
        if (t->wlen + (size_t)n > t->wcap) {
            size_t cap = t->wcap ? t->wcap : 4096;
            char *nb;
            while (cap < t->wlen + (size_t)n)
                cap *= 2;
            if (!(nb = realloc(t->wbuf, cap))) {
                t->sys_err = ENOMEM;
                return -1;
            }
            t->wbuf = nb;
            t->wcap = cap;
        }
        memcpy(t->wbuf + t->wlen, buf, (size_t)n);
        t->wlen += (size_t)n;
        return n;
    }
    /* Through the socket rather than send() on its descriptor: a write
     * that succeeds after a short read is what lets the next read skip
     * the recv() that would only say EAGAIN (ax_try_read()). */
    w = ax_try_write(t->sock, buf, (size_t)n);
    if (w == AX_EBUSY) /* the writer waits: a KeyUpdate answered by a read */
        w = raw_io(t, true, (char *)buf, (size_t)n);
    if (w >= 0)
        return (int)w;
    if (w == AX_EAGAIN)
        BIO_set_retry_write(b);
    else
        t->sys_err = (int)-w;
    return -1;
}

static int bio_read(BIO *b, char *buf, int n)
{
    ax_tls *t = BIO_get_data(b);
    ssize_t r;

    BIO_clear_retry_flags(b);
    r = ax_try_read(t->sock, buf, (size_t)n);
    if (r == AX_EBUSY) /* the reader waits: a renegotiating write reads */
        r = raw_io(t, false, buf, (size_t)n);
    if (r > 0)
        return (int)r;
    if (r == 0) {
        t->eof = true;
        return 0;
    }
    if (r == AX_EAGAIN)
        BIO_set_retry_read(b);
    else
        t->sys_err = (int)-r;
    return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    /* Uncorked, nothing is buffered here; corked, drive() sends what is
     * kept before it waits, and handshake() at the end. */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

/* Made once for the process and kept (like OpenSSL's own methods). */
static void bio_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "axon socket");

    if (m && BIO_meth_set_write(m, bio_write) &&
        BIO_meth_set_read(m, bio_read) && BIO_meth_set_ctrl(m, bio_ctrl)) {
        bio_method = m;
        return;
    }
    BIO_meth_free(m);
}

/* ---- contexts ------------------------------------------------------------ */

/* "h2,http/1.1" -> "\2h2\10http/1.1". */
static int alpn_wire(const char *list, unsigned char **out, size_t *len)
{
    size_t n = strlen(list), o = 0;
    unsigned char *w = malloc(n + 1);
    const char *p = list;

    if (!w)
        return AX_ENOMEM;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == 0 || k > 255) {
            free(w);
            set_err("ALPN list \"%s\": a name is empty or longer than 255",
                    list);
            return AX_EINVAL;
        }
        w[o++] = (unsigned char)k;
        memcpy(w + o, p, k);
        o += k;
        if (!e)
            break;
        p = e + 1;
    }
    *out = w;
    *len = o;
    return 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg)
{
    ax_tls_ctx *cx = arg;
    unsigned char *o;

    (void)ssl;
    /* The server's order decides; no common name is not fatal (the client
     * may speak the default protocol anyway). */
    if (SSL_select_next_proto(&o, outlen, cx->alpn, (unsigned)cx->alpn_len,
                              in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

static int load_files(SSL_CTX *ctx, const ax_tls_opts *o, bool server)
{
    if (o->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) != 1) {
            set_err("certificate file %s: %s", o->cert_file, ssl_reason());
            return AX_ETLSFILE;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) !=
            1) {
            set_err("key file %s: %s", o->key_file, ssl_reason());
            return AX_ETLSFILE;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            set_err("key file %s does not match certificate %s: %s",
                    o->key_file, o->cert_file, ssl_reason());
            return AX_ETLSFILE;
        }
    }
    if (o->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
            set_err("CA file %s: %s", o->ca_file, ssl_reason());
            return AX_ETLSFILE;
        }
        if (server) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
            if (names)
                SSL_CTX_set_client_CA_list(ctx, names);
            SSL_CTX_set_verify(ctx,
                               SSL_VERIFY_PEER |
                                   SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                               NULL);
        }
    } else if (!server && !o->insecure &&
               SSL_CTX_set_default_verify_paths(ctx) != 1) {
        set_err("system CA store: %s", ssl_reason());
        return AX_ETLSFILE;
    }
    return 0;
}

int ax_tls_ctx_new(ax_tls_ctx **out, ax_tls_role role,
                   const ax_tls_opts *opts)
{
    static const ax_tls_opts none;
    const ax_tls_opts *o = opts ? opts : &none;
    bool server = role == AX_TLS_SERVER;
    ax_tls_ctx *cx;
    int rc;

    if (!out || (role != AX_TLS_CLIENT && role != AX_TLS_SERVER))
        return AX_EINVAL;
    if ((server && (!o->cert_file || !o->key_file)) ||
        (!o->cert_file != !o->key_file)) {
        set_err("a server needs cert_file and key_file; a key needs its "
                "certificate");
        return AX_EINVAL;
    }
    cx = calloc(1, sizeof *cx);
    if (!cx)
        return AX_ENOMEM;
    cx->role = role;
    atomic_init(&cx->refs, 1);
    atomic_init(&cx->used, false);
    if (o->alpn && (rc = alpn_wire(o->alpn, &cx->alpn, &cx->alpn_len)))
        goto fail_1;
    ERR_clear_error();
    cx->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!cx->ctx) {
        set_err("SSL_CTX_new: %s", ssl_reason());
        rc = AX_ETLS;
        goto fail_1;
    }
    SSL_CTX_set_min_proto_version(cx->ctx, TLS1_2_VERSION);
    /* Partial writes: ax_tls_write() returns what went out, as write(2)
     * does. Moving buffer: ax_tls_write_all() retries from its own
     * buffer, which OpenSSL would otherwise insist be the same address. */
    SSL_CTX_set_mode(cx->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Read ahead: a record comes in with one recv() of up to 16 KiB,
     * with whatever follows it, instead of one for its 5-byte header and
     * one for its body (nginx does the same). What is read ahead stays in
     * OpenSSL's buffer, and SSL_read() takes from there before it asks
     * the BIO, so a wait still means "the socket had nothing". */
    SSL_CTX_set_read_ahead(cx->ctx, 1);
    if (!server && !o->insecure)
        SSL_CTX_set_verify(cx->ctx, SSL_VERIFY_PEER, NULL);
    if ((rc = load_files(cx->ctx, o, server)))
        goto fail_2;
    if (cx->alpn) {
        if (server) {
            SSL_CTX_set_alpn_select_cb(cx->ctx, alpn_select, cx);
        } else if (SSL_CTX_set_alpn_protos(cx->ctx, cx->alpn,
                                           (unsigned)cx->alpn_len) != 0) {
            set_err("ALPN: %s", ssl_reason());
            rc = AX_ETLS;
            goto fail_2;
        }
    }
    *out = cx;
    return 0;

fail_2:
    SSL_CTX_free(cx->ctx);
fail_1:
    free(cx->alpn);
    free(cx);
    return rc;
}

/* ---- SNI: a certificate per server name --------------------------------- */

/* Does @p name match the table entry @p pat? Exact, ignoring case; or
 * "*.example.com" for exactly one more label ("a.example.com", not
 * "example.com" nor "a.b.example.com"), as certificate wildcards do. */
static bool sni_match(const char *pat, const char *name)
{
    const char *dot;

    if (pat[0] != '*')
        return strcasecmp(pat, name) == 0;
    dot = strchr(name, '.');
    return dot && dot != name && strcasecmp(pat + 1, dot) == 0;
}

static const sni_cert *sni_find(const ax_tls_ctx *cx, const char *name)
{
    /* Exact names first, then wildcards. A linear scan: a server has a
     * handful of names, and this runs once per handshake. */
    for (int wild = 0; wild < 2; wild++)
        for (size_t i = 0; i < cx->nsni; i++)
            if ((cx->sni[i].name[0] == '*') == wild &&
                sni_match(cx->sni[i].name, name))
                return &cx->sni[i];
    return NULL;
}

/* OpenSSL's certificate callback, run once the ClientHello (and so the
 * server name) is in: put the name's certificate on the connection; an
 * unknown name, or none, keeps the default. */
static int sni_select(SSL *ssl, void *arg)
{
    const ax_tls_ctx *cx = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const sni_cert *sc;
    STACK_OF(X509) *chain = NULL;

    if (!name || !(sc = sni_find(cx, name)))
        return 1;
    SSL_CTX_get0_chain_certs(sc->holder, &chain);
    return SSL_use_cert_and_key(ssl, SSL_CTX_get0_certificate(sc->holder),
                                SSL_CTX_get0_privatekey(sc->holder), chain,
                                1) == 1;
}

/* A DNS name, or "*." and one: letters, digits, '-' and '.'. */
static bool sni_name_ok(const char *n)
{
    size_t len = strlen(n);

    if (n[0] == '*' && n[1] == '.')
        n += 2;
    if (!*n || len > 253)
        return false;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
              (*n >= '0' && *n <= '9') || *n == '-' || *n == '.'))
            return false;
    return true;
}

int ax_tls_ctx_add_cert(ax_tls_ctx *ctx, const char *server_name,
                        const char *cert_file, const char *key_file)
{
    ax_tls_opts o = {.cert_file = cert_file, .key_file = key_file};
    sni_cert *grown;
    SSL_CTX *holder;
    char *name;
    int rc;

    if (!ctx || !server_name || !cert_file || !key_file ||
        ctx->role != AX_TLS_SERVER)
        return AX_EINVAL;
    if (!sni_name_ok(server_name)) {
        set_err("server name \"%s\": not a DNS name or *.name",
                server_name);
        return AX_EINVAL;
    }
    if (atomic_load(&ctx->used)) {
        set_err("the context is in use: add certificates before the first "
                "handshake");
        return AX_EBUSY;
    }
    for (size_t i = 0; i < ctx->nsni; i++)
        if (strcasecmp(ctx->sni[i].name, server_name) == 0) {
            set_err("server name \"%s\" has a certificate already",
                    server_name);
            return AX_EALREADY;
        }
    ERR_clear_error();
    if (!(holder = SSL_CTX_new(TLS_server_method()))) {
        set_err("SSL_CTX_new: %s", ssl_reason());
        return AX_ENOMEM;
    }
    if ((rc = load_files(holder, &o, true)))
        goto fail_1;
    rc = AX_ENOMEM;
    if (!(name = strdup(server_name)))
        goto fail_1;
    if (!(grown = realloc(ctx->sni, (ctx->nsni + 1) * sizeof *grown)))
        goto fail_2;
    ctx->sni = grown;
    ctx->sni[ctx->nsni++] = (sni_cert){.name = name, .holder = holder};
    if (ctx->nsni == 1)
        SSL_CTX_set_cert_cb(ctx->ctx, sni_select, ctx);
    return 0;

fail_2:
    free(name);
fail_1:
    SSL_CTX_free(holder);
    return rc;
}

static void ctx_unref(ax_tls_ctx *cx)
{
    if (atomic_fetch_sub_explicit(&cx->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < cx->nsni; i++) {
        free(cx->sni[i].name);
        SSL_CTX_free(cx->sni[i].holder);
    }
    free(cx->sni);
    SSL_CTX_free(cx->ctx);
    free(cx->alpn);
    free(cx);
}

void ax_tls_ctx_free(ax_tls_ctx *ctx)
{
    if (ctx)
        ctx_unref(ctx);
}

/* ---- driving OpenSSL ------------------------------------------------------ */

enum { OP_HANDSHAKE, OP_READ, OP_WRITE, OP_SHUTDOWN };
#define GOT_CLOSE 1 /* drive(): the peer's close_notify */

/* Why the last SSL call failed, as an AX_E* code and a reason text. */
static int failure(ax_tls *t, int e)
{
    unsigned long err = ERR_peek_error();

    t->broken = true;
    if (t->sys_err) {
        set_err("%s", strerror(t->sys_err));
        ERR_clear_error();
        return -t->sys_err;
    }
    if (err && ERR_GET_LIB(err) == ERR_LIB_SSL &&
        ERR_GET_REASON(err) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long v = SSL_get_verify_result(t->ssl);
        set_err("certificate verify failed: %s",
                X509_verify_cert_error_string(v));
        ERR_clear_error();
        return AX_ETLSVERIFY;
    }
    if (t->eof) {
        set_err("the peer closed the connection without close_notify");
        ERR_clear_error();
        return AX_EPIPE;
    }
    if (err) {
        set_err("%s", ssl_reason());
        return AX_ETLS;
    }
    set_err("TLS failure (SSL_get_error %d)", e);
    return AX_ETLS;
}

/* Send what the corked BIO kept, waiting to write as needed.
 * @return 0 or a negative code (the connection is then broken). */
static int send_kept(ax_tls *t, int64_t dl)
{
    while (t->woff < t->wlen) {
        ssize_t w = send(ax_sock_fd(t->sock), t->wbuf + t->woff,
                         t->wlen - t->woff, MSG_NOSIGNAL);
        int rc;
        if (w >= 0) {
            t->woff += (size_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            t->broken = true;
            set_err("%s", strerror(errno));
            return -errno;
        }
        if ((rc = ax_sock_wait_dl(t->sock, AX_SOCK_WRITABLE, dl))) {
            set_err("%s", ax_strerror(rc));
            return rc;
        }
    }
    t->woff = t->wlen = 0;
    return 0;
}

/*
 * Run one SSL call to completion, waiting on the socket whenever OpenSSL
 * wants to read or write. @return 0; GOT_CLOSE; a negative code.
 */
static int drive(ax_tls *t, int op, void *buf, size_t n, size_t *done,
                 int64_t dl)
{
    bool timed_out = false;

    for (;;) {
        int r = 0, e, rc;

        ERR_clear_error();
        t->sys_err = 0;
        switch (op) {
        case OP_HANDSHAKE:
            r = SSL_do_handshake(t->ssl);
            break;
        case OP_READ:
            r = SSL_read_ex(t->ssl, buf, n, done);
            break;
        case OP_WRITE:
            r = SSL_write_ex(t->ssl, buf, n, done);
            break;
        case OP_SHUTDOWN:
            /* 0: ours is out, theirs not yet in; fine here. */
            r = SSL_shutdown(t->ssl);
            if (r >= 0)
                return 0;
            break;
        }
        if (r == 1)
            return 0;
        e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            /* The peer may be waiting for what the cork kept. */
            if (t->wlen && (rc = send_kept(t, dl)))
                return rc;
            rc = ax_sock_wait_dl(t->sock,
                                 e == SSL_ERROR_WANT_READ ? AX_SOCK_READABLE
                                                          : AX_SOCK_WRITABLE,
                                 dl);
            /* The BIO's read may have said "empty" without asking the
             * kernel (ax_try_read()), so a deadline that passes (a zero
             * timeout: at once) gets one more try before it counts, as
             * ax_read()'s does: bytes whose edge the loop has not polled
             * yet are still taken. */
            if (rc == AX_ETIMEDOUT && !timed_out) {
                timed_out = true;
                continue;
            }
            if (rc) {
                set_err("%s", ax_strerror(rc));
                return rc;
            }
            continue;
        }
        if (e == SSL_ERROR_ZERO_RETURN)
            return GOT_CLOSE;
        return failure(t, e);
    }
}

/* The checks every call on a connection starts with. */
static int enter(const ax_tls *t, int64_t dl)
{
    if (!t || dl < -1)
        return AX_EINVAL;
    if (!ax_task_self())
        return AX_ENOTTASK;
    if (ax_loop_current() != t->loop)
        return AX_EWRONGLOOP;
    return 0;
}

static void tls_free(ax_tls *t)
{
    SSL_free(t->ssl); /* and the BIO, which owns nothing */
    ctx_unref(t->cx);
    free(t->rbuf);
    free(t->wbuf);
    free(t);
}

static bool is_ip(const char *name)
{
    unsigned char a[16];

    return inet_pton(AF_INET, name, a) == 1 ||
           inet_pton(AF_INET6, name, a) == 1;
}

/* Make the connection and run the handshake. On failure nothing is left
 * but the socket, which stays its owner's. */
static int handshake(ax_tls **out, ax_tls_ctx *cx, ax_sock *s, bool owns,
                     const char *name, int64_t dl)
{
    bool server = cx->role == AX_TLS_SERVER;
    const unsigned char *ap;
    unsigned int alen = 0;
    ax_tls *t;
    BIO *b;
    int rc;

    pthread_once(&bio_once, bio_method_init);
    if (!bio_method)
        return AX_ENOMEM;
    if (ax_buffered(s)) {
        set_err("the socket has bytes buffered by ax_read_until()");
        return AX_EINVAL;
    }
    t = calloc(1, sizeof *t);
    if (!t)
        return AX_ENOMEM;
    t->sock = s;
    t->owns_sock = owns;
    t->loop = ax_loop_current();
    ERR_clear_error();
    if (!(t->ssl = SSL_new(cx->ctx)) || !(b = BIO_new(bio_method))) {
        set_err("SSL_new: %s", ssl_reason());
        SSL_free(t->ssl);
        free(t);
        return AX_ENOMEM;
    }
    BIO_set_data(b, t);
    BIO_set_init(b, 1);
    SSL_set_bio(t->ssl, b, b);
    atomic_fetch_add_explicit(&cx->refs, 1, memory_order_relaxed);
    t->cx = cx;
    if (!atomic_load_explicit(&cx->used, memory_order_relaxed))
        atomic_store(&cx->used, true);
    if (server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        /* SNI carries DNS names only (RFC 6066); an address is still
         * checked against the certificate's IP entries. */
        bool verify = SSL_get_verify_mode(t->ssl) != SSL_VERIFY_NONE;
        if (is_ip(name) ? verify && X509_VERIFY_PARAM_set1_ip_asc(
                                        SSL_get0_param(t->ssl), name) != 1
                        : SSL_set_tlsext_host_name(t->ssl, name) != 1 ||
                              (verify && SSL_set1_host(t->ssl, name) != 1)) {
            set_err("server name \"%s\": %s", name, ssl_reason());
            tls_free(t);
            return AX_EINVAL;
        }
    }
    t->reading = t->writing = true;
    t->cork = true;
    rc = drive(t, OP_HANDSHAKE, NULL, 0, NULL, dl);
    t->cork = false;
    /* The last flight (and TLS 1.3's session tickets) goes out now: the
     * peer may wait for it, and our caller may not write for a while. */
    if (rc == 0 && t->wlen)
        rc = send_kept(t, dl);
    else if (rc && t->woff < t->wlen) /* an alert: one try, no waiting */
        (void)!send(ax_sock_fd(t->sock), t->wbuf + t->woff,
                    t->wlen - t->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
    free(t->wbuf);
    t->wbuf = NULL;
    t->wcap = 0;
    t->reading = t->writing = false;
    if (rc == GOT_CLOSE) {
        set_err("the peer closed during the handshake");
        rc = AX_EPIPE;
    }
    if (rc) {
        tls_free(t);
        return rc;
    }
    SSL_get0_alpn_selected(t->ssl, &ap, &alen);
    if (alen)
        memcpy(t->alpn, ap, alen); /* alen < 256 by the protocol */
    t->alpn[alen] = '\0';
    *out = t;
    return 0;
}

int ax_tls_client_dl(ax_tls **out, ax_tls_ctx *ctx, ax_sock *s,
                     const char *server_name, int64_t deadline)
{
    if (!out || !ctx || !s || !server_name || ctx->role != AX_TLS_CLIENT ||
        deadline < -1)
        return AX_EINVAL;
    if (!ax_task_self())
        return AX_ENOTTASK;
    return handshake(out, ctx, s, false, server_name, deadline);
}

int ax_tls_client(ax_tls **out, ax_tls_ctx *ctx, ax_sock *s,
                  const char *server_name, double timeout)
{
    return ax_tls_client_dl(out, ctx, s, server_name,
                            ax_deadline_in(timeout));
}

int ax_tls_accept_dl(ax_tls **out, ax_tls_ctx *ctx, ax_sock *s,
                     int64_t deadline)
{
    if (!out || !ctx || !s || ctx->role != AX_TLS_SERVER || deadline < -1)
        return AX_EINVAL;
    if (!ax_task_self())
        return AX_ENOTTASK;
    return handshake(out, ctx, s, false, NULL, deadline);
}

int ax_tls_accept(ax_tls **out, ax_tls_ctx *ctx, ax_sock *s, double timeout)
{
    return ax_tls_accept_dl(out, ctx, s, ax_deadline_in(timeout));
}

int ax_tls_connect_dl(ax_tls **out, ax_tls_ctx *ctx, const char *host,
                      int port, const char *server_name, int64_t deadline)
{
    ax_sock *s;
    int rc;

    if (!out || !ctx || ctx->role != AX_TLS_CLIENT || deadline < -1)
        return AX_EINVAL;
    if ((rc = ax_connect_dl(&s, host, port, deadline))) {
        set_err("connect: %s", ax_strerror(rc));
        return rc;
    }
    if (!server_name)
        server_name = host ? host : "127.0.0.1";
    if ((rc = handshake(out, ctx, s, true, server_name, deadline)))
        ax_close(s);
    return rc;
}

int ax_tls_connect(ax_tls **out, ax_tls_ctx *ctx, const char *host, int port,
                   const char *server_name, double timeout)
{
    return ax_tls_connect_dl(out, ctx, host, port, server_name,
                             ax_deadline_in(timeout));
}

/* ---- reading ---------------------------------------------------------- */

/* Decrypt into @p buf: count, 0 at close_notify, or a code. */
static ssize_t read_some(ax_tls *t, void *buf, size_t n, int64_t dl)
{
    size_t got = 0;
    int rc;

    if (t->got_close)
        return 0;
    if (t->broken)
        return AX_EPIPE;
    rc = drive(t, OP_READ, buf, n, &got, dl);
    if (rc == GOT_CLOSE) {
        t->got_close = true;
        return 0;
    }
    return rc ? rc : (ssize_t)got;
}

static int read_enter(ax_tls *t, int64_t dl)
{
    int rc = enter(t, dl);

    if (rc)
        return rc;
    if (t->reading)
        return AX_EBUSY;
    t->reading = true;
    return 0;
}

static size_t take_buffered(ax_tls *t, void *buf, size_t n)
{
    size_t k = t->rend - t->rstart;

    if (k > n)
        k = n;
    memcpy(buf, t->rbuf + t->rstart, k);
    t->rstart += k;
    return k;
}

ssize_t ax_tls_read_dl(ax_tls *t, void *buf, size_t n, int64_t deadline)
{
    ssize_t r;
    int rc;

    if (!buf && n)
        return AX_EINVAL;
    if ((rc = read_enter(t, deadline)))
        return rc;
    if (t->rend > t->rstart)
        r = (ssize_t)take_buffered(t, buf, n);
    else
        r = n ? read_some(t, buf, n, deadline) : 0;
    t->reading = false;
    return r;
}

ssize_t ax_tls_read(ax_tls *t, void *buf, size_t n, double timeout)
{
    return ax_tls_read_dl(t, buf, n, ax_deadline_in(timeout));
}

int ax_tls_read_exact_dl(ax_tls *t, void *buf, size_t n, int64_t deadline)
{
    size_t got = 0;
    int rc;

    if (!buf && n)
        return AX_EINVAL;
    if ((rc = read_enter(t, deadline)))
        return rc;
    if (t->rend > t->rstart)
        got = take_buffered(t, buf, n);
    while (got < n) {
        ssize_t r = read_some(t, (char *)buf + got, n - got, deadline);
        if (r <= 0) {
            rc = r ? (int)r : AX_EPIPE;
            break;
        }
        got += (size_t)r;
    }
    t->reading = false;
    return rc;
}

int ax_tls_read_exact(ax_tls *t, void *buf, size_t n, double timeout)
{
    return ax_tls_read_exact_dl(t, buf, n, ax_deadline_in(timeout));
}

static int read_until(ax_tls *t, const char *delim, size_t dlen, char **line,
                      size_t *len, size_t max, int64_t dl)
{
    size_t scanned = 0;

    for (;;) {
        size_t have = t->rend - t->rstart;
        size_t from = scanned > dlen ? scanned - dlen + 1 : 0;
        size_t limit = have < max ? have : max;
        char *hit = limit > from ? ax__memfind(t->rbuf + t->rstart + from,
                                               limit - from, delim, dlen)
                                 : NULL;
        ssize_t r;
        if (hit) {
            *line = t->rbuf + t->rstart;
            *len = (size_t)(hit - *line) + dlen;
            t->rstart += *len;
            return 0;
        }
        scanned = limit;
        if (have >= max)
            return AX_E2BIG;
        if (t->rstart && t->rend == t->rcap) {
            memmove(t->rbuf, t->rbuf + t->rstart, have);
            t->rend = have;
            t->rstart = 0;
        }
        if (t->rend == t->rcap) {
            size_t cap = t->rcap ? t->rcap * 2 : RBUF_MIN;
            char *nb;
            if (cap > max + RBUF_MIN)
                cap = max + RBUF_MIN;
            nb = realloc(t->rbuf, cap);
            if (!nb)
                return AX_ENOMEM;
            t->rbuf = nb;
            t->rcap = cap;
        }
        r = read_some(t, t->rbuf + t->rend, t->rcap - t->rend, dl);
        if (r < 0)
            return (int)r;
        if (r == 0)
            return AX_EPIPE;
        t->rend += (size_t)r;
    }
}

int ax_tls_read_until_dl(ax_tls *t, const char *delim, char **line,
                         size_t *len, size_t max, int64_t deadline)
{
    size_t dlen = delim ? strlen(delim) : 0;
    int rc;

    if (!dlen || !line || !len || max < dlen)
        return AX_EINVAL;
    if ((rc = read_enter(t, deadline)))
        return rc;
    rc = read_until(t, delim, dlen, line, len, max, deadline);
    t->reading = false;
    return rc;
}

int ax_tls_read_until(ax_tls *t, const char *delim, char **line, size_t *len,
                      size_t max, double timeout)
{
    return ax_tls_read_until_dl(t, delim, line, len, max,
                                ax_deadline_in(timeout));
}

size_t ax_tls_buffered(const ax_tls *t)
{
    return t ? t->rend - t->rstart : 0;
}

/* ---- writing ------------------------------------------------------------ */

static int write_enter(ax_tls *t, int64_t dl)
{
    int rc = enter(t, dl);

    if (rc)
        return rc;
    if (t->writing)
        return AX_EBUSY;
    if (t->broken || t->wdead || t->sent_close)
        return AX_EPIPE;
    t->writing = true;
    return 0;
}

static ssize_t write_some(ax_tls *t, const void *buf, size_t n, int64_t dl)
{
    size_t done = 0;
    int rc = drive(t, OP_WRITE, (void *)buf, n, &done, dl);

    if (rc) {
        /* OpenSSL may hold half a record that only a retry with the same
         * bytes could finish; nobody will retry it. */
        t->wdead = true;
        return rc == GOT_CLOSE ? AX_EPIPE : rc;
    }
    return (ssize_t)done;
}

ssize_t ax_tls_write_dl(ax_tls *t, const void *buf, size_t n,
                        int64_t deadline)
{
    ssize_t w;
    int rc;

    if (!buf && n)
        return AX_EINVAL;
    if ((rc = write_enter(t, deadline)))
        return rc;
    w = n ? write_some(t, buf, n, deadline) : 0;
    t->writing = false;
    return w;
}

ssize_t ax_tls_write(ax_tls *t, const void *buf, size_t n, double timeout)
{
    return ax_tls_write_dl(t, buf, n, ax_deadline_in(timeout));
}

int ax_tls_write_all_dl(ax_tls *t, const void *buf, size_t n,
                        int64_t deadline)
{
    size_t done = 0;
    int rc;

    if (!buf && n)
        return AX_EINVAL;
    if ((rc = write_enter(t, deadline)))
        return rc;
    while (done < n) {
        ssize_t w = write_some(t, (const char *)buf + done, n - done,
                               deadline);
        if (w < 0) {
            rc = (int)w;
            break;
        }
        done += (size_t)w;
    }
    t->writing = false;
    return rc;
}

int ax_tls_write_all(ax_tls *t, const void *buf, size_t n, double timeout)
{
    return ax_tls_write_all_dl(t, buf, n, ax_deadline_in(timeout));
}

/* ---- closing ------------------------------------------------------------ */

int ax_tls_shutdown_dl(ax_tls *t, bool wait_peer, int64_t deadline)
{
    int rc;

    if ((rc = write_enter(t, deadline)))
        return rc == AX_EPIPE && t->sent_close && !wait_peer ? 0 : rc;
    if (wait_peer && t->reading) {
        t->writing = false;
        return AX_EBUSY;
    }
    rc = drive(t, OP_SHUTDOWN, NULL, 0, NULL, deadline);
    if (!rc)
        t->sent_close = true;
    else
        t->wdead = true;
    if (!rc && wait_peer) {
        /* Drop what the peer still sends until its close_notify. */
        char sink[4096];
        ssize_t r;
        t->reading = true;
        while ((r = read_some(t, sink, sizeof sink, deadline)) > 0)
            ;
        t->reading = false;
        rc = (int)r;
    }
    t->writing = false;
    return rc;
}

int ax_tls_shutdown(ax_tls *t, bool wait_peer, double timeout)
{
    return ax_tls_shutdown_dl(t, wait_peer, ax_deadline_in(timeout));
}

int ax_tls_close(ax_tls *t)
{
    int rc;

    if (!t)
        return AX_EINVAL;
    if (ax_loop_current() != t->loop)
        return AX_EWRONGLOOP;
    if (t->reading || t->writing)
        return AX_EBUSY;
    if (!t->broken && !t->wdead && !t->sent_close) {
        /* One try, no waiting: close must not suspend. */
        ERR_clear_error();
        t->sys_err = 0;
        if (SSL_shutdown(t->ssl) >= 0)
            t->sent_close = true;
        ERR_clear_error();
    }
    if (t->owns_sock && (rc = ax_close(t->sock)))
        return rc;
    tls_free(t);
    return 0;
}

/* ---- queries ------------------------------------------------------------ */

ax_sock *ax_tls_sock(const ax_tls *t) { return t ? t->sock : NULL; }

const char *ax_tls_alpn(const ax_tls *t)
{
    return t && t->alpn[0] ? t->alpn : NULL;
}

const char *ax_tls_server_name(const ax_tls *t)
{
    return t ? SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name) : NULL;
}

const char *ax_tls_version(const ax_tls *t)
{
    return t ? SSL_get_version(t->ssl) : NULL;
}
