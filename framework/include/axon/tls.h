/* SPDX-License-Identifier: MIT */
/**
 * @file axon/tls.h
 * @brief TLS sockets over OpenSSL: the optional library libaxon-tls.
 *
 * Built when configure finds OpenSSL (features.h: AXON_HAVE_TLS); link
 * with `pkg-config --cflags --libs axon-tls`. It sits on libaxon's public
 * API only: a TLS connection runs over an ax_sock and waits with
 * ax_sock_wait_dl(), so it has the same deadlines, cancellation and
 * one-reader-one-writer rule as the plain socket calls of axon/net.h.
 *
 *     ax_tls_ctx *cx;
 *     ax_tls_opts o = {.cert_file = "cert.pem", .key_file = "key.pem"};
 *     ax_tls_ctx_new(&cx, AX_TLS_SERVER, &o);
 *     // in an ax_serve() handler:
 *     ax_tls *t;
 *     if (ax_tls_accept(&t, cx, conn, 10.0) == 0) {
 *         ... ax_tls_read_until(t, ...), ax_tls_write_all(t, ...) ...
 *         ax_tls_close(t);
 *     }
 *
 * Clients verify the server by default: its chain against the system's CA
 * store (or ax_tls_opts.ca_file), and its name (the server_name given to
 * the connect call, DNS name or IP address). A failure is AX_ETLSVERIFY;
 * other TLS failures are AX_ETLS; ax_tls_last_error() gives OpenSSL's
 * reason ("certificate has expired", "hostname mismatch", "http request").
 *
 * A server can hold a certificate per name: ax_tls_ctx_add_cert() adds
 * one that clients asking for that name with SNI get instead of the
 * default.
 *
 * A handshake takes a deadline like every suspending call: one that never
 * finishes (a peer that connects and says nothing) ends in AX_ETIMEDOUT
 * and the connection's TLS state is freed.
 *
 * Every suspending call has a timeout form (seconds, negative: none) and a
 * _dl twin taking an absolute deadline on ax_now_ns()'s clock (-1: none).
 * A connection belongs to the loop that made it; use it from that loop's
 * tasks. One task may read while another writes; two readers (or two
 * writers) get AX_EBUSY. A read may have to write (a TLS 1.3 key update):
 * if a writer is then blocked on the socket it returns AX_EBUSY.
 */
#ifndef AXON_TLS_H
#define AXON_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "axon/common.h"
#include "axon/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The task stack TLS calls need, in bytes: OpenSSL's handshake (key
 * exchange, certificate checks) runs on the calling task's stack and
 * overflows axon's 64 KiB default. Give tasks that use TLS at least this
 * much: ax_task_opts.stack_size, ax_serve_opts.stack_size, or
 * ax_opts.stack_size for a whole loop.
 */
#define AX_TLS_STACK_SIZE ((size_t)256 * 1024)

/** A TLS configuration (OpenSSL's SSL_CTX): certificates, trust, ALPN.
 *  Shared by any number of connections on any loops. */
typedef struct ax_tls_ctx ax_tls_ctx;

/** A TLS connection over an ax_sock. */
typedef struct ax_tls ax_tls;

/** Which side a context is for. */
typedef enum ax_tls_role { AX_TLS_CLIENT = 0, AX_TLS_SERVER = 1 } ax_tls_role;

/** Options for ax_tls_ctx_new(). Zero-initialise; strings are copied or
 *  read during the call only. */
typedef struct ax_tls_opts {
    /** PEM certificate chain (leaf first). Required for a server; for a
     *  client, a client certificate (optional). */
    const char *cert_file;
    /** PEM private key of cert_file. Required with cert_file. */
    const char *key_file;
    /** PEM CA certificates to trust instead of the system store (client:
     *  the server's issuers; server: makes the server ask clients for a
     *  certificate and require one that chains to these). */
    const char *ca_file;
    /** Client only: do not verify the server at all. For tests; never in
     *  production. */
    bool insecure;
    /** ALPN protocols in preference order, comma-separated
     *  ("h2,http/1.1"), or NULL for none. A server picks the first of its
     *  own list the client offers, and goes on without ALPN if none
     *  matches. */
    const char *alpn;
} ax_tls_opts;

/**
 * Make a TLS context (TLS 1.2 and 1.3).
 * @param out   receives the context; free it with ax_tls_ctx_free().
 * @param role  AX_TLS_CLIENT or AX_TLS_SERVER.
 * @param opts  may be NULL for a client (system CA store, verification on).
 * @return 0; AX_ETLSFILE if a certificate, key or CA file cannot be read
 *         or the key does not match the certificate (ax_tls_last_error()
 *         says which and why); AX_EINVAL (NULL @p out, a server without
 *         cert_file/key_file, a key without a certificate, a bad role, an
 *         ALPN list with an empty or over-long name); AX_ETLS if OpenSSL
 *         refuses otherwise; AX_ENOMEM.
 * Thread: any, also outside a loop. Suspends: no (reads files).
 */
AX_EXTERN int ax_tls_ctx_new(ax_tls_ctx **out, ax_tls_role role,
                             const ax_tls_opts *opts);

/**
 * Give a server context one more certificate, sent to clients that ask
 * for @p server_name with SNI. A client that asks for a name with no
 * certificate of its own, or sends no name, gets the context's default
 * (ax_tls_opts.cert_file). Everything else (ALPN, client certificates,
 * protocol versions) stays the context's.
 * @param server_name a DNS name ("www.example.com", matched ignoring
 *        case) or a wildcard "*.example.com", which matches exactly one
 *        label more ("a.example.com"; not "example.com" nor
 *        "a.b.example.com"). An exact name wins over a wildcard.
 * @param cert_file PEM certificate chain (leaf first) for that name.
 * @param key_file PEM private key of @p cert_file.
 * Both files are read during the call.
 * @return 0; AX_ETLSFILE (a file cannot be read, or the key does not
 *         match: ax_tls_last_error() says which); AX_EALREADY (the name
 *         has a certificate already); AX_EBUSY (a handshake has already
 *         used @p ctx: add every certificate before the first
 *         connection); AX_EINVAL (NULL argument, a client context, a name
 *         that is not a DNS name or "*." and one); AX_ENOMEM.
 * Thread: any, but not while another thread uses @p ctx. Suspends: no.
 */
AX_EXTERN int ax_tls_ctx_add_cert(ax_tls_ctx *ctx, const char *server_name,
                                  const char *cert_file,
                                  const char *key_file);

/**
 * Drop the caller's reference to @p ctx. Connections made from it keep it
 * alive until they are closed, so it may be freed at once after use.
 * NULL is ignored. Thread: any. Suspends: no.
 */
AX_EXTERN void ax_tls_ctx_free(ax_tls_ctx *ctx);

/**
 * Connect to @p host:@p port (as ax_connect()) and run the client
 * handshake. The new connection owns its socket: ax_tls_close() closes
 * both.
 * @param server_name the name sent as SNI and checked against the
 *        server's certificate; NULL: @p host. An IP address is checked
 *        against the certificate's IP addresses and sent as no SNI.
 * @param timeout seconds for the TCP connect and the handshake together;
 *        negative: none.
 * @return 0 and *out; AX_ETLSVERIFY (the server's certificate is not
 *         trusted, expired, or not for @p server_name); AX_ETLS (the
 *         handshake failed: not TLS, no common protocol or cipher, an
 *         alert); AX_ETIMEDOUT; AX_ECANCELED; AX_EPIPE (the server closed
 *         during the handshake); the codes of ax_connect(); AX_EINVAL (NULL
 *         @p out or @p ctx, a server context); AX_ENOMEM. On failure
 *         nothing is left to free.
 * Thread: a task. Suspends: yes.
 */
AX_EXTERN int ax_tls_connect(ax_tls **out, ax_tls_ctx *ctx, const char *host,
                             int port, const char *server_name,
                             double timeout);

/** ax_tls_connect() until the absolute @p deadline (-1: none).
 *  @return as ax_tls_connect(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_tls_connect_dl(ax_tls **out, ax_tls_ctx *ctx,
                                const char *host, int port,
                                const char *server_name, int64_t deadline);

/**
 * Run the client handshake over the connected socket @p s. @p s stays the
 * caller's: close it after ax_tls_close() (which does not). Bytes already
 * buffered in @p s by ax_read_until() would be lost: that is AX_EINVAL.
 * @return as ax_tls_connect() (no connect errors). On failure @p s is
 *         untouched but for what the handshake wrote and read: close it.
 * Thread: a task of @p s's loop. Suspends: yes.
 */
AX_EXTERN int ax_tls_client(ax_tls **out, ax_tls_ctx *ctx, ax_sock *s,
                            const char *server_name, double timeout);

/** ax_tls_client() until the absolute @p deadline (-1: none).
 *  @return as ax_tls_client(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_tls_client_dl(ax_tls **out, ax_tls_ctx *ctx, ax_sock *s,
                               const char *server_name, int64_t deadline);

/**
 * Run the server handshake over the accepted socket @p s (from ax_accept()
 * or an ax_serve() handler). @p s stays the caller's: ax_tls_close() does
 * not close it. Always give a finite timeout to a server handshake: a
 * client that connects and sends nothing would otherwise hold the task.
 * @return 0 and *out; AX_ETLS (the client does not speak TLS, e.g. plain
 *         HTTP on the TLS port: ax_tls_last_error() says "http request";
 *         no common protocol; a client certificate refused); AX_ETIMEDOUT
 *         (the handshake did not finish in time); AX_ECANCELED; AX_EPIPE
 *         (the client closed); kernel errors (AX_ECONNRESET...); AX_EINVAL
 *         (NULL argument, a client context, bytes buffered in @p s);
 *         AX_ENOMEM. On failure the TLS state is freed; close @p s.
 * Thread: a task of @p s's loop. Suspends: yes.
 */
AX_EXTERN int ax_tls_accept(ax_tls **out, ax_tls_ctx *ctx, ax_sock *s,
                            double timeout);

/** ax_tls_accept() until the absolute @p deadline (-1: none).
 *  @return as ax_tls_accept(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_tls_accept_dl(ax_tls **out, ax_tls_ctx *ctx, ax_sock *s,
                               int64_t deadline);

/**
 * Read up to @p n bytes of plaintext. Bytes buffered by
 * ax_tls_read_until() come first.
 * @return the count (> 0); 0 at the end of the stream, after the peer's
 *         close_notify; AX_EPIPE if the peer closed the connection without
 *         close_notify (the data may be truncated); AX_ETLS (a bad record
 *         or an alert); AX_ETIMEDOUT; AX_ECANCELED; kernel errors
 *         (AX_ECONNRESET...); AX_EBUSY (another reader); AX_EINVAL;
 *         AX_ENOTTASK; AX_EWRONGLOOP.
 * Thread: a task of the connection's loop. Suspends: until data.
 */
AX_EXTERN ssize_t ax_tls_read(ax_tls *t, void *buf, size_t n, double timeout);

/** ax_tls_read() until the absolute @p deadline (-1: none); plaintext
 *  already decrypted or arrived is returned even past it.
 *  @return as ax_tls_read(); AX_EINVAL for a deadline below -1. */
AX_EXTERN ssize_t ax_tls_read_dl(ax_tls *t, void *buf, size_t n,
                                 int64_t deadline);

/** Read exactly @p n bytes; the timeout covers the whole call.
 *  @return 0; AX_EPIPE if the stream ended first (what was read is lost);
 *  the codes of ax_tls_read(). */
AX_EXTERN int ax_tls_read_exact(ax_tls *t, void *buf, size_t n,
                                double timeout);

/** ax_tls_read_exact() until the absolute @p deadline (-1: none).
 *  @return as ax_tls_read_exact(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_tls_read_exact_dl(ax_tls *t, void *buf, size_t n,
                                   int64_t deadline);

/**
 * Buffered read up to and including @p delim, as ax_read_until().
 * @param line receives a pointer into the connection's buffer, valid until
 *             the next read call on @p t.
 * @return 0; AX_E2BIG if no delimiter within @p max bytes (the bytes stay
 *         buffered); AX_EPIPE at end of stream before a delimiter; the
 *         codes of ax_tls_read(). The timeout covers the whole call; on
 *         AX_ETIMEDOUT the partial line stays buffered.
 */
AX_EXTERN int ax_tls_read_until(ax_tls *t, const char *delim, char **line,
                                size_t *len, size_t max, double timeout);

/** ax_tls_read_until() until the absolute @p deadline (-1: none).
 *  @return as ax_tls_read_until(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_tls_read_until_dl(ax_tls *t, const char *delim, char **line,
                                   size_t *len, size_t max, int64_t deadline);

/** Plaintext bytes buffered by ax_tls_read_until() and not yet consumed
 *  (0 for NULL). Any thread that owns @p t; does not suspend. */
AX_EXTERN size_t ax_tls_buffered(const ax_tls *t);

/**
 * Write up to @p n bytes (at least one record's worth once writable).
 * @return the count written; AX_EPIPE when the peer is gone or after
 *         ax_tls_shutdown(); AX_ETLS; AX_ETIMEDOUT; AX_ECANCELED;
 *         AX_EBUSY (another writer); AX_EINVAL; AX_ENOTTASK;
 *         AX_EWRONGLOOP. After a failed write (a timeout included) a
 *         record may be half sent: every later write returns AX_EPIPE.
 * SIGPIPE is never raised. Suspends: while the send buffer is full.
 */
AX_EXTERN ssize_t ax_tls_write(ax_tls *t, const void *buf, size_t n,
                               double timeout);

/** ax_tls_write() until the absolute @p deadline (-1: none).
 *  @return as ax_tls_write(); AX_EINVAL for a deadline below -1. */
AX_EXTERN ssize_t ax_tls_write_dl(ax_tls *t, const void *buf, size_t n,
                                  int64_t deadline);

/** Write all @p n bytes; the timeout covers the whole call.
 *  @return 0; the codes of ax_tls_write(). */
AX_EXTERN int ax_tls_write_all(ax_tls *t, const void *buf, size_t n,
                               double timeout);

/** ax_tls_write_all() until the absolute @p deadline (-1: none).
 *  @return as ax_tls_write_all(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_tls_write_all_dl(ax_tls *t, const void *buf, size_t n,
                                  int64_t deadline);

/**
 * Graceful close of the sending side: send TLS close_notify (the peer's
 * read returns 0) and, with @p wait_peer, read and drop the peer's data
 * until its close_notify. Later writes return AX_EPIPE; reads may go on.
 * @return 0; AX_ETIMEDOUT; AX_ECANCELED; AX_EPIPE (the peer closed
 *         without close_notify while waiting for it); AX_ETLS; kernel
 *         errors; AX_EBUSY (a writer, or with @p wait_peer a reader, is
 *         busy); AX_EINVAL; AX_ENOTTASK; AX_EWRONGLOOP.
 * Thread: a task of the connection's loop. Suspends: yes.
 */
AX_EXTERN int ax_tls_shutdown(ax_tls *t, bool wait_peer, double timeout);

/** ax_tls_shutdown() until the absolute @p deadline (-1: none).
 *  @return as ax_tls_shutdown(); AX_EINVAL for a deadline below -1. */
AX_EXTERN int ax_tls_shutdown_dl(ax_tls *t, bool wait_peer,
                                 int64_t deadline);

/**
 * Free the connection. If close_notify was not sent yet and the connection
 * is healthy, it is sent now if the send buffer has room (no waiting: use
 * ax_tls_shutdown() to be sure it goes out). A connection made by
 * ax_tls_connect() also closes its socket; one from ax_tls_accept() or
 * ax_tls_client() leaves the socket to its owner.
 * @return 0; AX_EBUSY if a task is inside a read or write on @p t (cancel
 *         it first; nothing is freed); AX_EWRONGLOOP; AX_EINVAL for NULL.
 * Thread: the connection's loop. Suspends: no.
 */
AX_EXTERN int ax_tls_close(ax_tls *t);

/** The socket under @p t (for ax_sock_fd(), ax_sock_port()), or NULL.
 *  Do not read or write it directly: that would corrupt the stream. */
AX_EXTERN ax_sock *ax_tls_sock(const ax_tls *t);

/** The ALPN protocol agreed in the handshake ("http/1.1"), or NULL if
 *  none. Valid until ax_tls_close(). */
AX_EXTERN const char *ax_tls_alpn(const ax_tls *t);

/** Server side: the name the client asked for with SNI, or NULL if it
 *  sent none. Client side: the name it sent. Valid until ax_tls_close(). */
AX_EXTERN const char *ax_tls_server_name(const ax_tls *t);

/** The negotiated protocol version ("TLSv1.3"), or NULL for NULL. */
AX_EXTERN const char *ax_tls_version(const ax_tls *t);

/**
 * OpenSSL's reason for the last failure of an ax_tls call on the calling
 * thread ("certificate has expired", "http request", "cannot read key
 * file x.pem: No such file or directory"), or "" if none yet. Read it
 * right after the failing call, before the task suspends again: other
 * tasks of the loop share the thread. Never NULL; the buffer is the
 * thread's own. Thread: any. Suspends: no.
 */
AX_EXTERN const char *ax_tls_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
