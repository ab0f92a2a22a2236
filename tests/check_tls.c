/* SPDX-License-Identifier: MIT */
/*
 * check_tls: axon/tls.h (libaxon-tls) against the real thing.
 *
 * main() makes a throw-away CA and certificates with the `openssl` command
 * in a temporary directory (a good one for localhost and 127.0.0.1, an
 * expired one, one for another host), and starts nginx with TLS on a free
 * loopback port with a config of its own in that directory (single
 * process, `daemon off`, every path a temporary one, killed when this
 * program dies). Then:
 *   - curl --cacert and openssl s_client talk to axon's TLS server;
 *   - axon's client talks to nginx;
 *   - axon's client and server talk to each other (large transfers,
 *     read_until, deadlines, graceful close);
 *   - bad input: a plaintext client on the TLS port, an expired
 *     certificate, a wrong-host certificate, an unknown CA, a handshake
 *     that never finishes (timed out, freed: ASan/valgrind check the
 *     "freed"), bad files and options;
 *   - SNI: a server with certificates for other.test and *.wild.test
 *     besides its default, checked by axon's verifying client and by the
 *     subject openssl s_client -servername prints; unknown names and no
 *     name get the default.
 * Missing tools (openssl, curl, nginx) make the tests that need them skip.
 * The directory is removed and nginx stopped at exit, also on failure.
 */
#include "axtest.h"

#include <axon/tls.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

static char dir[64];         /* the temporary directory, or "" */
static bool have_certs;      /* openssl made them */
static pid_t nginx_pid;      /* 0: not running */
static int nginx_port;

static char path_buf[8][256];
static int path_next;

/* dir/name, in one of a few rotating buffers. */
static const char *P(const char *name)
{
    char *b = path_buf[path_next++ % 8];
    snprintf(b, sizeof path_buf[0], "%s/%s", dir, name);
    return b;
}

static bool have_tool(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Key and certificate NAME signed by the test CA, valid DAYS days (-1:
 * expired yesterday), for the subjectAltName SAN. */
static bool make_cert(const char *name, const char *san, int days)
{
    return sh("cd %s && openssl req -new -newkey ec -pkeyopt "
              "ec_paramgen_curve:prime256v1 -nodes -keyout %s.key -out "
              "%s.csr -subj /CN=%s >>openssl.log 2>&1 && printf "
              "'subjectAltName=%s\\n' >%s.ext && openssl x509 -req -in "
              "%s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out %s.pem "
              "-days %d -extfile %s.ext >>openssl.log 2>&1",
              dir, name, name, name, san, name, name, name, days, name) == 0;
}

static bool make_certs(void)
{
    if (!have_tool("openssl"))
        return false;
    if (sh("cd %s && openssl req -x509 -newkey ec -pkeyopt "
           "ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem "
           "-days 2 -subj /CN=axon-test-ca >openssl.log 2>&1",
           dir) != 0)
        return false;
    return make_cert("good", "DNS:localhost,IP:127.0.0.1", 2) &&
           make_cert("expired", "DNS:localhost,IP:127.0.0.1", -1) &&
           make_cert("wronghost", "DNS:wrong.example", 2) &&
           make_cert("other", "DNS:other.test", 2) &&
           make_cert("wild", "DNS:*.wild.test", 2);
}

static void start_nginx(void)
{
    const char *bin = "/usr/sbin/nginx";
    char g[512];
    FILE *f;

    if (access(bin, X_OK) != 0 || !have_certs)
        return;
    nginx_port = axt_free_port(SOCK_STREAM);
    f = fopen(P("nginx.conf"), "w");
    if (!f || nginx_port < 0)
        return;
    /* Single process, so that one kill stops it; a root user only where
     * we are root (elsewhere the directive would be ignored with a
     * warning); every temporary path inside dir. */
    fprintf(f,
            "%s"
            "events { worker_connections 64; }\n"
            "http {\n"
            "  access_log off;\n"
            "  client_body_temp_path %s/body;\n"
            "  proxy_temp_path %s/proxy;\n"
            "  fastcgi_temp_path %s/fastcgi;\n"
            "  uwsgi_temp_path %s/uwsgi;\n"
            "  scgi_temp_path %s/scgi;\n"
            "  server {\n"
            "    listen 127.0.0.1:%d ssl;\n"
            "    server_name localhost;\n"
            "    ssl_certificate %s/good.pem;\n"
            "    ssl_certificate_key %s/good.key;\n"
            "    location / { return 200 \"hello from nginx\\n\"; }\n"
            "  }\n"
            "}\n",
            geteuid() == 0 ? "user root;\n" : "", dir, dir, dir, dir, dir,
            nginx_port, dir, dir);
    fclose(f);
    snprintf(g, sizeof g,
             "daemon off; master_process off; pid %s/nginx.pid; "
             "error_log %s/error.log;",
             dir, dir);
    nginx_pid = fork();
    if (nginx_pid == 0) {
        int out = open(P("nginx.out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the tests */
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execl(bin, "nginx", "-p", dir, "-e", P("error.log"), "-c",
              P("nginx.conf"), "-g", g, (char *)NULL);
        _exit(127);
    }
    /* Up to 10 s for the port: a hang guard, not a timing assertion. */
    for (int i = 0; i < 1000 && nginx_pid > 0; i++) {
        int st;
        if (waitpid(nginx_pid, &st, WNOHANG) == nginx_pid) {
            nginx_pid = 0; /* it died: the tests will say so */
            break;
        }
        if (axt_port_open(nginx_port))
            return;
        usleep(10000);
    }
    if (nginx_pid > 0) {
        kill(nginx_pid, SIGKILL);
        waitpid(nginx_pid, NULL, 0);
    }
    nginx_pid = 0;
}

static void cleanup(void)
{
    if (nginx_pid > 0) {
        kill(nginx_pid, SIGTERM);
        waitpid(nginx_pid, NULL, 0);
        nginx_pid = 0;
    }
    if (dir[0])
        sh("rm -rf '%s'", dir);
    dir[0] = '\0';
}

/* Run argv with stdin from @p in (or /dev/null) and stdout+stderr to
 * @p out. @return the pid. */
static pid_t spawn(char *const argv[], const char *in, const char *out)
{
    pid_t pid = fork();

    if (pid == 0) {
        int i = open(in ? in : "/dev/null", O_RDONLY);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(i, 0);
        dup2(o, 1);
        dup2(o, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Wait for @p pid without blocking the loop (the child talks to it).
 * @return its exit status, or -1. */
static int reap(pid_t pid)
{
    int st;

    for (int i = 0; i < 6000; i++) { /* hang guard: 60 s */
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0)
            return -1;
        ax_sleep(0.01);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

static void slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t got = 0;

    if (f) {
        got = fread(buf, 1, n - 1, f);
        fclose(f);
    }
    buf[got] = '\0';
}

static ax_tls_ctx *server_ctx(const char *cert, const char *alpn)
{
    char c[64], k[64];
    ax_tls_ctx *cx = NULL;

    snprintf(c, sizeof c, "%s.pem", cert);
    snprintf(k, sizeof k, "%s.key", cert);
    const char *cp = P(c), *kp = P(k);
    ax_tls_opts o = {.cert_file = cp, .key_file = kp, .alpn = alpn};
    axt_assert_rc(ax_tls_ctx_new(&cx, AX_TLS_SERVER, &o), 0);
    return cx;
}

static ax_tls_ctx *client_ctx(bool our_ca, const char *alpn)
{
    ax_tls_opts o = {.ca_file = our_ca ? P("ca.pem") : NULL, .alpn = alpn};
    ax_tls_ctx *cx = NULL;

    axt_assert_rc(ax_tls_ctx_new(&cx, AX_TLS_CLIENT, &o), 0);
    return cx;
}

#define NEED_CERTS()                                                          \
    do {                                                                      \
        if (!have_certs)                                                      \
            AXT_SKIP("the openssl command could not make certificates");      \
    } while (0)

/* Real clock (real sockets and processes); stacks as tls.h advises. */
static void run_real(ax_task_fn fn, void *arg)
{
    ax_opts o;
    int rc;

    memset(&o, 0, sizeof o);
    o.stack_size = AX_TLS_STACK_SIZE;
    unsetenv("AX_VIRTUAL_CLOCK");
    rc = ax_test_run_with(&o, fn, arg, NULL);
    ck_assert_msg(rc == 0, "ax_run: %s; report:\n%s", ax_err_name(rc),
                  ax_test_report());
    AXT_ASSERT_CLEAN();
}

/* ---- curl and openssl s_client against axon's server ------------------ */

static void *curl_main(void *arg)
{
    ax_tls_ctx *cx = server_ctx("good", "http/1.1");
    ax_sock *l, *c;
    ax_tls *t;
    char url[128], *head, body[4096];
    size_t len;
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
                               "Connection: close\r\n\r\nhello tls\n";

    (void)arg;
    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    snprintf(url, sizeof url, "https://localhost:%d/x", ax_sock_port(l));
    char *argv[] = {"curl", "-sS", "--http1.1", "--cacert", (char *)P("ca.pem"),
                    "-o", (char *)P("curl.body"), url, NULL};
    pid_t pid = spawn(argv, NULL, P("curl.out"));
    ck_assert_int_gt(pid, 0);
    axt_assert_rc(ax_accept(l, &c, 30), 0);
    axt_assert_rc(ax_tls_accept(&t, cx, c, 30), 0);
    ck_assert_str_eq(ax_tls_server_name(t), "localhost"); /* SNI */
    ck_assert_str_eq(ax_tls_alpn(t), "http/1.1");         /* ALPN */
    axt_assert_rc(ax_tls_read_until(t, "\r\n\r\n", &head, &len, 8192, 30),
                  0);
    ck_assert_msg(len > 9 && memcmp(head, "GET /x HTTP/1.1", 15) == 0,
                  "request: %.*s", (int)len, head);
    axt_assert_rc(ax_tls_write_all(t, resp, sizeof resp - 1, 30), 0);
    axt_assert_rc(ax_tls_shutdown(t, false, 30), 0);
    axt_assert_rc(ax_tls_close(t), 0);
    axt_assert_rc(ax_close(c), 0);
    int st = reap(pid);
    slurp(P("curl.out"), body, sizeof body);
    ck_assert_msg(st == 0, "curl exit %d: %s", st, body);
    slurp(P("curl.body"), body, sizeof body);
    ck_assert_str_eq(body, "hello tls\n");
    ax_close(l);
    ax_tls_ctx_free(cx);
    return NULL;
}

START_TEST(test_curl_to_axon_server)
{
    NEED_CERTS();
    if (!have_tool("curl"))
        AXT_SKIP("no curl");
    run_real(curl_main, NULL);
}
END_TEST

static void *s_client_main(void *arg)
{
    ax_tls_ctx *cx = server_ctx("good", "x-axon,http/1.1");
    ax_sock *l, *c;
    ax_tls *t;
    char hp[64], line_in[4096], *line;
    size_t len;
    FILE *f;

    (void)arg;
    f = fopen(P("s_client.in"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("ping\n", f);
    fclose(f);
    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", ax_sock_port(l));
    char *argv[] = {"openssl", "s_client", "-connect", hp, "-servername",
                    "localhost", "-CAfile", (char *)P("ca.pem"),
                    "-verify_return_error", "-alpn", "x-axon", "-quiet",
                    NULL};
    pid_t pid = spawn(argv, P("s_client.in"), P("s_client.out"));
    axt_assert_rc(ax_accept(l, &c, 30), 0);
    axt_assert_rc(ax_tls_accept(&t, cx, c, 30), 0);
    ck_assert_str_eq(ax_tls_alpn(t), "x-axon");
    ck_assert_str_eq(ax_tls_server_name(t), "localhost");
    axt_assert_rc(ax_tls_read_until(t, "\n", &line, &len, 100, 30), 0);
    ck_assert_int_eq(len, 5);
    ck_assert(memcmp(line, "ping\n", 5) == 0);
    axt_assert_rc(ax_tls_write_all(t, "pong\n", 5, 30), 0);
    /* close_notify ends s_client (-quiet ignores its stdin's end). */
    axt_assert_rc(ax_tls_shutdown(t, false, 30), 0);
    axt_assert_rc(ax_tls_close(t), 0);
    axt_assert_rc(ax_close(c), 0);
    int st = reap(pid);
    slurp(P("s_client.out"), line_in, sizeof line_in);
    ck_assert_msg(st == 0, "s_client exit %d: %s", st, line_in);
    ck_assert_msg(strstr(line_in, "pong\n") != NULL, "s_client: %s",
                  line_in);
    ax_close(l);
    ax_tls_ctx_free(cx);
    return NULL;
}

START_TEST(test_s_client_to_axon_server)
{
    NEED_CERTS();
    run_real(s_client_main, NULL);
}
END_TEST

/* ---- axon's client against nginx ----------------------------------------- */

static void *nginx_main(void *arg)
{
    ax_tls_ctx *cx = client_ctx(true, "http/1.1");
    ax_tls *t;
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    static const char req[] =
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";

    (void)arg;
    axt_assert_rc(ax_tls_connect(&t, cx, "127.0.0.1", nginx_port, "localhost",
                                 30),
                  0);
    ck_assert_str_eq(ax_tls_alpn(t), "http/1.1");
    ck_assert_ptr_nonnull(ax_tls_version(t));
    axt_assert_rc(ax_tls_write_all(t, req, sizeof req - 1, 30), 0);
    while ((r = ax_tls_read(t, buf + got, sizeof buf - 1 - got, 30)) > 0)
        got += (size_t)r;
    /* nginx closes with close_notify: a clean end, not AX_EPIPE. */
    axt_assert_rc((int)r, 0);
    buf[got] = '\0';
    ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "reply: %s", buf);
    ck_assert_msg(strstr(buf, "\r\n\r\nhello from nginx\n") != NULL,
                  "reply: %s", buf);
    axt_assert_rc(ax_tls_close(t), 0);

    /* By IP address: checked against the certificate's IP entry. */
    axt_assert_rc(ax_tls_connect(&t, cx, "127.0.0.1", nginx_port, NULL, 30),
                  0);
    axt_assert_rc(ax_tls_close(t), 0);
    ax_tls_ctx_free(cx);

    /* nginx's certificate is not from a CA the system knows. */
    cx = client_ctx(false, NULL);
    axt_assert_rc(ax_tls_connect(&t, cx, "127.0.0.1", nginx_port, "localhost",
                                 30),
                  AX_ETLSVERIFY);
    ck_assert_msg(strstr(ax_tls_last_error(), "certificate verify failed"),
                  "reason: %s", ax_tls_last_error());
    ax_tls_ctx_free(cx);
    return NULL;
}

START_TEST(test_axon_client_to_nginx)
{
    NEED_CERTS();
    if (nginx_pid <= 0) {
        char log[2048];
        slurp(P("error.log"), log, sizeof log);
        if (access("/usr/sbin/nginx", X_OK) == 0)
            ck_abort_msg("nginx did not start: %s", log);
        AXT_SKIP("no nginx");
    }
    run_real(nginx_main, NULL);
}
END_TEST

/* ---- axon to axon ----------------------------------------------------------- */

typedef struct pair {
    ax_tls_ctx *scx, *ccx;
    ax_sock *l;
    const char *name;      /* the client's server_name */
    int client_rc, server_rc;
    char client_err[256];
    size_t big;            /* bytes the client sends and gets back */
    bool plaintext;        /* the client speaks plain HTTP */
    bool silent;           /* the client connects and says nothing */
    double hs_timeout;     /* the server's handshake timeout */
} pair;

static void *pair_client(void *arg)
{
    pair *p = arg;
    ax_tls *t;
    ax_sock *s;
    int port = ax_sock_port(p->l);

    if (p->plaintext || p->silent) {
        char b[256];
        axt_assert_rc(ax_connect(&s, "127.0.0.1", port, 30), 0);
        if (p->plaintext)
            axt_assert_rc(ax_write_all(s, "GET / HTTP/1.1\r\n\r\n", 18, 30),
                          0);
        /* The server gives up: an alert, then end of stream. */
        while (ax_read(s, b, sizeof b, 30) > 0)
            ;
        ax_close(s);
        return NULL;
    }
    p->client_rc = ax_tls_connect(&t, p->ccx, "127.0.0.1", port, p->name, 30);
    snprintf(p->client_err, sizeof p->client_err, "%s", ax_tls_last_error());
    if (p->client_rc)
        return NULL;
    if (p->big) {
        char *out = malloc(p->big), *in = malloc(p->big);
        for (size_t i = 0; i < p->big; i++)
            out[i] = (char)(i * 7 + (i >> 13));
        axt_assert_rc(ax_tls_write_all(t, out, p->big, 60), 0);
        axt_assert_rc(ax_tls_read_exact(t, in, p->big, 60), 0);
        ck_assert(memcmp(in, out, p->big) == 0);
        free(out);
        free(in);
    }
    /* Graceful close both ways: ours out, theirs in. */
    axt_assert_rc(ax_tls_shutdown(t, true, 30), 0);
    axt_assert_rc(ax_tls_close(t), 0);
    return NULL;
}

static void *pair_main(void *arg)
{
    pair *p = arg;
    ax_task *ct;
    ax_sock *c;
    ax_tls *t;

    axt_assert_rc(ax_tcp_listen(&p->l, "127.0.0.1", 0, NULL), 0);
    axt_assert_rc(ax_spawn(&ct, pair_client, p), 0);
    axt_assert_rc(ax_accept(p->l, &c, 30), 0);
    p->server_rc = ax_tls_accept(&t, p->scx, c,
                                 p->hs_timeout ? p->hs_timeout : 30);
    if (!p->server_rc) {
        if (p->big) {
            /* Echo in chunks: both directions full at once. */
            char buf[65536];
            size_t left = p->big;
            while (left) {
                ssize_t r = ax_tls_read(t, buf, sizeof buf, 60);
                ck_assert_int_gt(r, 0);
                axt_assert_rc(ax_tls_write_all(t, buf, (size_t)r, 60), 0);
                left -= (size_t)r;
            }
        }
        char b[16];
        /* The client's close_notify: a clean end of stream. */
        axt_assert_rc((int)ax_tls_read(t, b, sizeof b, 30), 0);
        axt_assert_rc(ax_tls_shutdown(t, false, 30), 0);
        axt_assert_rc(ax_tls_close(t), 0);
    } else {
        snprintf(p->client_err + 128, 128, "%s", ax_tls_last_error());
    }
    axt_assert_rc(ax_close(c), 0);
    axt_assert_rc(ax_await(ct, NULL), 0);
    ax_close(p->l);
    return NULL;
}

START_TEST(test_axon_to_axon_echo_1mb)
{
    pair p = {.name = "localhost", .big = (size_t)1 << 20};

    NEED_CERTS();
    p.scx = server_ctx("good", "h2,http/1.1");
    p.ccx = client_ctx(true, "http/1.1");
    run_real(pair_main, &p);
    ax_tls_ctx_free(p.scx);
    ax_tls_ctx_free(p.ccx);
}
END_TEST

/* Bad input: a plaintext HTTP client on the TLS port. */
START_TEST(test_plaintext_client_on_tls_port)
{
    pair p = {.plaintext = true};

    NEED_CERTS();
    p.scx = server_ctx("good", NULL);
    run_real(pair_main, &p);
    axt_assert_rc(p.server_rc, AX_ETLS);
    ck_assert_msg(strstr(p.client_err + 128, "http request"),
                  "reason: %s", p.client_err + 128);
    ax_tls_ctx_free(p.scx);
}
END_TEST

/* Bad input: a client that connects and never starts the handshake. The
 * server's handshake times out and its TLS state is freed (a leak would
 * fail the ASan and valgrind runs). */
START_TEST(test_handshake_never_finishes)
{
    pair p = {.silent = true, .hs_timeout = 0.2};

    NEED_CERTS();
    p.scx = server_ctx("good", NULL);
    run_real(pair_main, &p);
    axt_assert_rc(p.server_rc, AX_ETIMEDOUT);
    ax_tls_ctx_free(p.scx);
}
END_TEST

/* Bad input: the server's certificate has expired. The handshake that
 * fails still tells the peer why: the client's alert (kept with the rest
 * of its flight while the handshake runs) goes out before the connection
 * is dropped, and the server names it. */
START_TEST(test_expired_certificate)
{
    pair p = {.name = "localhost"};

    NEED_CERTS();
    p.scx = server_ctx("expired", NULL);
    p.ccx = client_ctx(true, NULL);
    run_real(pair_main, &p);
    axt_assert_rc(p.client_rc, AX_ETLSVERIFY);
    ck_assert_msg(strstr(p.client_err, "expired"), "reason: %s",
                  p.client_err);
    axt_assert_rc(p.server_rc, AX_ETLS);
    ck_assert_msg(strstr(p.client_err + 128, "alert certificate expired"),
                  "server's reason: %s", p.client_err + 128);
    ax_tls_ctx_free(p.scx);
    ax_tls_ctx_free(p.ccx);
}
END_TEST

/* Bad input: a certificate for another host, by name and by address. */
START_TEST(test_wrong_host_certificate)
{
    const char *names[] = {"localhost", "127.0.0.1"};

    NEED_CERTS();
    for (int i = 0; i < 2; i++) {
        pair p = {.name = names[i]};
        p.scx = server_ctx("wronghost", NULL);
        p.ccx = client_ctx(true, NULL);
        run_real(pair_main, &p);
        axt_assert_rc(p.client_rc, AX_ETLSVERIFY);
        ck_assert_msg(strstr(p.client_err, "mismatch"), "reason: %s",
                      p.client_err);
        ax_tls_ctx_free(p.scx);
        ax_tls_ctx_free(p.ccx);
    }
}
END_TEST

/* Bad input: a server whose CA the client does not trust (the system
 * store), and the same with verification switched off (accepted). */
START_TEST(test_unknown_ca_and_insecure)
{
    pair p = {.name = "localhost"};
    ax_tls_opts o = {.insecure = true};

    NEED_CERTS();
    p.scx = server_ctx("good", NULL);
    p.ccx = client_ctx(false, NULL);
    run_real(pair_main, &p);
    axt_assert_rc(p.client_rc, AX_ETLSVERIFY);
    ck_assert_msg(strstr(p.client_err, "certificate verify failed: "),
                  "reason: %s", p.client_err);
    ax_tls_ctx_free(p.ccx);

    axt_assert_rc(ax_tls_ctx_new(&p.ccx, AX_TLS_CLIENT, &o), 0);
    p.client_rc = p.server_rc = -1;
    run_real(pair_main, &p);
    axt_assert_rc(p.client_rc, 0);
    axt_assert_rc(p.server_rc, 0);
    ax_tls_ctx_free(p.ccx);
    ax_tls_ctx_free(p.scx);
}
END_TEST

/* Bad input: missing or mismatched files, options that make no sense. */
START_TEST(test_bad_files_and_options)
{
    ax_tls_ctx *cx = NULL;
    ax_tls_opts o = {.cert_file = "/nonexistent/cert.pem",
                     .key_file = "/nonexistent/key.pem"};

    NEED_CERTS();
    axt_assert_rc(ax_tls_ctx_new(&cx, AX_TLS_SERVER, &o), AX_ETLSFILE);
    ck_assert_msg(strstr(ax_tls_last_error(), "/nonexistent/cert.pem"),
                  "reason: %s", ax_tls_last_error());
    /* A key that is not the certificate's. */
    o.cert_file = P("good.pem");
    o.key_file = P("expired.key");
    axt_assert_rc(ax_tls_ctx_new(&cx, AX_TLS_SERVER, &o), AX_ETLSFILE);
    ck_assert_msg(strstr(ax_tls_last_error(), "expired.key"),
                  "reason: %s", ax_tls_last_error());
    o = (ax_tls_opts){.ca_file = "/nonexistent/ca.pem"};
    axt_assert_rc(ax_tls_ctx_new(&cx, AX_TLS_CLIENT, &o), AX_ETLSFILE);
    /* A server without a certificate; a key alone; a bad ALPN list; bad
     * role; NULL out. */
    axt_assert_rc(ax_tls_ctx_new(&cx, AX_TLS_SERVER, NULL), AX_EINVAL);
    o = (ax_tls_opts){.key_file = P("good.key")};
    axt_assert_rc(ax_tls_ctx_new(&cx, AX_TLS_CLIENT, &o), AX_EINVAL);
    o = (ax_tls_opts){.alpn = "h2,,http/1.1"};
    axt_assert_rc(ax_tls_ctx_new(&cx, AX_TLS_CLIENT, &o), AX_EINVAL);
    axt_assert_rc(ax_tls_ctx_new(&cx, (ax_tls_role)7, NULL), AX_EINVAL);
    axt_assert_rc(ax_tls_ctx_new(NULL, AX_TLS_CLIENT, NULL), AX_EINVAL);
    ck_assert_ptr_null(cx);
    /* NULL everywhere else. */
    axt_assert_rc(ax_tls_close(NULL), AX_EINVAL);
    ck_assert_ptr_null(ax_tls_alpn(NULL));
    ck_assert_ptr_null(ax_tls_sock(NULL));
    ck_assert_uint_eq(ax_tls_buffered(NULL), 0);
    ax_tls_ctx_free(NULL);
}
END_TEST

/* Misuse on a live connection: wrong context role, a deadline below -1,
 * bytes already buffered in the socket, two readers, closing under a
 * reader, and a read past its deadline. */
static void *reader(void *arg)
{
    char b[8];
    return AXT_P(ax_tls_read(arg, b, sizeof b, 30));
}

typedef struct hs_arg {
    ax_tls_ctx *cx;
    ax_sock *s;
    ax_tls *t;
} hs_arg;

static void *client_hs(void *arg)
{
    hs_arg *h = arg;
    return AXT_P(ax_tls_client(&h->t, h->cx, h->s, "localhost", 30));
}

static void *misuse_main(void *arg)
{
    ax_tls_ctx *scx = server_ctx("good", NULL), *ccx = client_ctx(true, NULL);
    ax_sock *l, *c, *cs;
    ax_tls *st, *t;
    ax_task *r, *hs;
    char b[8], *line;
    size_t len;
    void *res;

    (void)arg;
    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    /* A server context cannot connect; a client context cannot accept. */
    axt_assert_rc(ax_tls_connect(&t, scx, "127.0.0.1", ax_sock_port(l), NULL,
                                 1),
                  AX_EINVAL);
    axt_assert_rc(ax_connect(&cs, "127.0.0.1", ax_sock_port(l), 30), 0);
    axt_assert_rc(ax_accept(l, &c, 30), 0);
    axt_assert_rc(ax_tls_accept(&st, ccx, c, 1), AX_EINVAL);
    axt_assert_rc(ax_tls_accept_dl(&st, scx, c, -2), AX_EINVAL);
    axt_assert_rc(ax_tls_client(&t, ccx, cs, NULL, 1), AX_EINVAL);
    /* Plaintext read with ax_read_until() first: "xyz" stays buffered in
     * the socket, where TLS would never see it. */
    axt_assert_rc(ax_write_all(c, "abc\nxyz", 7, 30), 0);
    axt_assert_rc(ax_read_until(cs, "\n", &line, &len, 100, 30), 0);
    ck_assert_uint_eq(ax_buffered(cs), 3);
    axt_assert_rc(ax_tls_client(&t, ccx, cs, "localhost", 1), AX_EINVAL);
    ax_close(cs);
    ax_close(c);

    /* A good pair, the client over a socket of its own (ax_tls_client). */
    axt_assert_rc(ax_connect(&cs, "127.0.0.1", ax_sock_port(l), 30), 0);
    axt_assert_rc(ax_accept(l, &c, 30), 0);
    hs_arg h = {ccx, cs, NULL};
    axt_assert_rc(ax_spawn(&hs, client_hs, &h), 0);
    axt_assert_rc(ax_tls_accept(&st, scx, c, 30), 0);
    axt_assert_rc(ax_await(hs, &res), 0);
    axt_assert_rc((int)AXT_I(res), 0);
    t = h.t;
    ck_assert_ptr_eq(ax_tls_sock(t), cs);
    ck_assert_ptr_null(ax_tls_alpn(t)); /* none offered */
    /* Nothing to read and the deadline already past: AX_ETIMEDOUT. */
    axt_assert_rc((int)ax_tls_read_dl(t, b, sizeof b, ax_now_ns()),
                  AX_ETIMEDOUT);
    axt_assert_rc((int)ax_tls_read_dl(t, b, sizeof b, -2), AX_EINVAL);
    axt_assert_rc((int)ax_tls_read(t, NULL, 4, 1), AX_EINVAL);
    /* A reader inside: a second reader and close are refused. */
    axt_assert_rc(ax_spawn(&r, reader, t), 0);
    axt_assert_rc(ax_yield(), 0);
    axt_assert_rc((int)ax_tls_read(t, b, sizeof b, 1), AX_EBUSY);
    axt_assert_rc(ax_tls_close(t), AX_EBUSY);
    axt_assert_rc(ax_tls_write_all(st, "hi", 2, 30), 0);
    axt_assert_rc(ax_await(r, &res), 0);
    ck_assert_int_eq(AXT_I(res), 2);
    /* After our close_notify, writes are refused; reads go on. */
    axt_assert_rc(ax_tls_shutdown(st, false, 30), 0);
    axt_assert_rc((int)ax_tls_write(st, "x", 1, 30), AX_EPIPE);
    axt_assert_rc((int)ax_tls_read(t, b, sizeof b, 30), 0);
    axt_assert_rc(ax_tls_write_all(t, "late", 4, 30), 0);
    axt_assert_rc(ax_tls_read_exact(st, b, 4, 30), 0);
    ck_assert(memcmp(b, "late", 4) == 0);
    axt_assert_rc(ax_tls_close(t), 0);
    axt_assert_rc(ax_tls_close(st), 0);
    ax_close(cs);
    ax_close(c);
    ax_close(l);
    ax_tls_ctx_free(scx);
    ax_tls_ctx_free(ccx);
    return NULL;
}

START_TEST(test_misuse)
{
    NEED_CERTS();
    run_real(misuse_main, NULL);
}
END_TEST

/* ---- the examples: http-hello --tls, axload --tls ------------------------- */

/* Start EXAMPLES_DIR/http-hello --tls on a free port; @return its pid and
 * *port, from its "listening on" line. */
static pid_t start_http_hello(int *port, const char *cert)
{
    const char *ex = getenv("EXAMPLES_DIR");
    char bin[512], c[64], k[64], line[256];
    int fds[2];
    pid_t pid;
    FILE *f;

    if (!ex)
        return -1;
    snprintf(bin, sizeof bin, "%s/servers/http-hello", ex);
    snprintf(c, sizeof c, "%s.pem", cert);
    snprintf(k, sizeof k, "%s.key", cert);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], 1);
        close(fds[0]);
        execl(bin, "http-hello", "--port", "0", "--loops", "1", "--tls", P(c),
              P(k), (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    f = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(fgets(line, sizeof line, f) != NULL,
                  "http-hello --tls printed nothing");
    fclose(f);
    ck_assert_msg(sscanf(line, "listening on 127.0.0.1:%d", port) == 1,
                  "http-hello: %s", line);
    return pid;
}

static int run_wait(char *const argv[], const char *out)
{
    int st;
    pid_t pid = spawn(argv, NULL, out);

    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(test_http_hello_tls)
{
    char url[128], port_s[16], body[4096];
    int port, st;
    pid_t srv;

    NEED_CERTS();
    if (!getenv("EXAMPLES_DIR"))
        AXT_SKIP("EXAMPLES_DIR not set (run through make check)");
    if (!have_tool("curl"))
        AXT_SKIP("no curl");
    srv = start_http_hello(&port, "good");
    snprintf(url, sizeof url, "https://localhost:%d/", port);
    snprintf(port_s, sizeof port_s, "%d", port);
    /* curl, twice on one connection (keep-alive over TLS). */
    char *curl[] = {"curl", "-sS", "--cacert", (char *)P("ca.pem"), url, url,
                    NULL};
    st = run_wait(curl, P("hh.curl"));
    slurp(P("hh.curl"), body, sizeof body);
    ck_assert_msg(st == 0, "curl exit %d: %s", st, body);
    ck_assert_str_eq(body, "Hello, World!Hello, World!");
    /* A plaintext request on the TLS port gets no answer, and the server
     * lives on. */
    char plain[128];
    snprintf(plain, sizeof plain, "http://127.0.0.1:%d/", port);
    char *curl_plain[] = {"curl", "-sS", "-m", "20", plain, NULL};
    ck_assert_int_ne(run_wait(curl_plain, P("hh.plain")), 0);
    /* axload over TLS: every request answered. */
    char ax[512];
    snprintf(ax, sizeof ax, "%s/servers/axload", getenv("EXAMPLES_DIR"));
    char *load[] = {ax, "--port", port_s, "--tls", (char *)P("ca.pem"),
                    "--sni", "localhost", "--requests", "200",
                    "--connections", "4", NULL};
    st = run_wait(load, P("hh.axload"));
    slurp(P("hh.axload"), body, sizeof body);
    ck_assert_msg(st == 0 && strstr(body, "requests:   200\n") &&
                      strstr(body, "errors:     0\n"),
                  "axload exit %d: %s", st, body);
    /* axload against a server whose name is not the one asked for. */
    char *bad[] = {ax, "--port", port_s, "--tls", (char *)P("ca.pem"),
                   "--sni", "other.example", "--requests", "1", NULL};
    st = run_wait(bad, P("hh.bad"));
    slurp(P("hh.bad"), body, sizeof body);
    ck_assert_msg(st == 1 && strstr(body, "mismatch"), "axload exit %d: %s",
                  st, body);
    kill(srv, SIGTERM);
    waitpid(srv, &st, 0);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "http-hello --tls did not stop cleanly: %d", st);
}
END_TEST

/* ---- SNI: a certificate per server name -------------------------------- */

/* The good certificate as the default, "other" for other.test, "wild" for
 * *.wild.test. */
static ax_tls_ctx *sni_ctx(void)
{
    ax_tls_ctx *cx = server_ctx("good", NULL);
    const char *oc = P("other.pem"), *ok = P("other.key");
    const char *wc = P("wild.pem"), *wk = P("wild.key");

    axt_assert_rc(ax_tls_ctx_add_cert(cx, "other.test", oc, ok), 0);
    axt_assert_rc(ax_tls_ctx_add_cert(cx, "*.wild.test", wc, wk), 0);
    return cx;
}

/* axon's client checks the certificate against the name it asked for, so
 * a handshake that verifies is one that got that name's certificate. */
START_TEST(test_sni_certificate_by_name)
{
    static const struct {
        const char *name;
        int rc;
    } cases[] = {
        {"other.test", 0},  {"OTHER.test", 0},   {"a.wild.test", 0},
        {"localhost", 0},   /* the default */
        /* Bad input: names with no certificate get the default, which is
         * not for them: the client says so. */
        {"nobody.test", AX_ETLSVERIFY}, {"wild.test", AX_ETLSVERIFY},
        {"a.b.wild.test", AX_ETLSVERIFY},
    };

    NEED_CERTS();
    ax_tls_ctx *scx = sni_ctx();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pair p = {.name = cases[i].name, .scx = scx};
        p.ccx = client_ctx(true, NULL);
        run_real(pair_main, &p);
        ck_assert_msg(p.client_rc == cases[i].rc, "%s: %s (%s)",
                      cases[i].name, ax_err_name(p.client_rc), p.client_err);
        if (cases[i].rc)
            ck_assert_msg(strstr(p.client_err, "mismatch"), "%s: %s",
                          cases[i].name, p.client_err);
        ax_tls_ctx_free(p.ccx);
    }
    /* Bad input: the table is fixed once a handshake has used it. */
    axt_assert_rc(ax_tls_ctx_add_cert(scx, "late.test", P("other.pem"),
                                      P("other.key")),
                  AX_EBUSY);
    ax_tls_ctx_free(scx);
}
END_TEST

typedef struct sni_probe {
    ax_tls_ctx *cx;
    const char *name; /* -servername, or NULL for none */
    char out[8192];   /* what s_client printed */
    int status;
} sni_probe;

static void *sni_probe_main(void *arg)
{
    sni_probe *sp = arg;
    ax_sock *l, *c;
    ax_tls *t;
    char hp[64], b[64];

    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", ax_sock_port(l));
    char *argv[] = {"openssl", "s_client", "-connect", hp, "-CAfile",
                    (char *)P("ca.pem"), "-servername", (char *)sp->name,
                    NULL};
    if (!sp->name)
        argv[6] = "-noservername";
    if (!sp->name)
        argv[7] = NULL;
    pid_t pid = spawn(argv, NULL, P("sni.out"));
    ck_assert_int_gt(pid, 0);
    axt_assert_rc(ax_accept(l, &c, 30), 0);
    axt_assert_rc(ax_tls_accept(&t, sp->cx, c, 30), 0);
    if (sp->name)
        ck_assert_str_eq(ax_tls_server_name(t), sp->name);
    else
        ck_assert_ptr_null(ax_tls_server_name(t));
    /* s_client ends at its stdin's end: wait for it to go. */
    while (ax_tls_read(t, b, sizeof b, 30) > 0)
        ;
    ax_tls_close(t);
    axt_assert_rc(ax_close(c), 0);
    sp->status = reap(pid);
    slurp(P("sni.out"), sp->out, sizeof sp->out);
    ax_close(l);
    return NULL;
}

/* openssl s_client shows the subject of the certificate that came back. */
START_TEST(test_sni_s_client_subject)
{
    static const struct {
        const char *name, *subject;
    } cases[] = {
        {"other.test", "CN = other"}, {"x.wild.test", "CN = wild"},
        {"localhost", "CN = good"},
        {"nobody.test", "CN = good"}, /* bad input: unknown -> default */
        {NULL, "CN = good"},          /* no SNI at all -> default */
    };

    NEED_CERTS();
    ax_tls_ctx *cx = sni_ctx();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sni_probe sp = {.cx = cx, .name = cases[i].name};
        char want[64];
        run_real(sni_probe_main, &sp);
        snprintf(want, sizeof want, "subject=%s\n", cases[i].subject);
        ck_assert_msg(strstr(sp.out, want), "-servername %s: want %s in: %s",
                      cases[i].name ? cases[i].name : "(none)", want,
                      sp.out);
    }
    ax_tls_ctx_free(cx);
}
END_TEST

/* Bad input to ax_tls_ctx_add_cert(). */
START_TEST(test_sni_add_cert_bad_input)
{
    static const char *const bad_names[] = {"", "*", "*.", "a b.test",
                                            "a/b", "x.*.test", "*x.test"};
    ax_tls_ctx *cx, *ccx;

    NEED_CERTS();
    cx = server_ctx("good", NULL);
    ccx = client_ctx(true, NULL);
    const char *oc = P("other.pem"), *ok = P("other.key");
    axt_assert_rc(ax_tls_ctx_add_cert(NULL, "a.test", oc, ok), AX_EINVAL);
    axt_assert_rc(ax_tls_ctx_add_cert(cx, NULL, oc, ok), AX_EINVAL);
    axt_assert_rc(ax_tls_ctx_add_cert(cx, "a.test", NULL, ok), AX_EINVAL);
    axt_assert_rc(ax_tls_ctx_add_cert(cx, "a.test", oc, NULL), AX_EINVAL);
    axt_assert_rc(ax_tls_ctx_add_cert(ccx, "a.test", oc, ok), AX_EINVAL);
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        ck_assert_msg(ax_tls_ctx_add_cert(cx, bad_names[i], oc, ok) ==
                          AX_EINVAL,
                      "name \"%s\" accepted", bad_names[i]);
    axt_assert_rc(ax_tls_ctx_add_cert(cx, "a.test", P("missing.pem"), ok),
                  AX_ETLSFILE);
    ck_assert_msg(strstr(ax_tls_last_error(), "missing.pem"), "reason: %s",
                  ax_tls_last_error());
    /* A key that is not the certificate's. */
    axt_assert_rc(ax_tls_ctx_add_cert(cx, "a.test", oc, P("good.key")),
                  AX_ETLSFILE);
    axt_assert_rc(ax_tls_ctx_add_cert(cx, "a.test", oc, ok), 0);
    axt_assert_rc(ax_tls_ctx_add_cert(cx, "A.TEST", oc, ok), AX_EALREADY);
    ax_tls_ctx_free(cx);
    ax_tls_ctx_free(ccx);
}
END_TEST

/* ---- records cut and joined by the network ------------------------------ */

/*
 * The client's bytes reach the server through a relay task (the client's
 * TLS runs over one end of a socketpair, the relay copies to a real TCP
 * connection): so the test decides where the network cuts the records.
 * The server reads ahead (one recv() takes whatever is there), so it must
 * cope with a record in many pieces, many records in one piece, and a
 * peer that stops in the middle of one.
 */
enum { CUT_NONE, CUT_BYTES, CUT_TRUNCATE };

typedef struct relay {
    ax_tls_ctx *scx, *ccx;
    ax_sock *client_end;         /* the client's TLS runs over this */
    ax_sock *up_in, *up_out;     /* client's pair end -> server's peer */
    ax_sock *down_in, *down_out; /* and back */
    int mode;                    /* CUT_*: how the upstream is cut */
    bool accepted;               /* the server's handshake is done */
    size_t records, rlen;        /* the client's records and their size */
    ssize_t server_rc;           /* what the server's last read said */
    size_t server_got;
} relay;

static void *relay_up(void *arg)
{
    relay *r = arg;
    char b[16384];
    ssize_t n;

    while ((n = ax_read(r->up_in, b, sizeof b, 30)) > 0) {
        if (r->mode == CUT_TRUNCATE) {
            /* Half of the next record, then end of stream. */
            ax_write_all(r->up_out, b, (size_t)n / 2, 30);
            break;
        }
        if (r->mode == CUT_BYTES) {
            for (ssize_t i = 0; i < n; i++) {
                if (ax_write_all(r->up_out, b + i, 1, 30))
                    return NULL;
                ax_yield(); /* let the server read what is there */
            }
        } else if (ax_write_all(r->up_out, b, (size_t)n, 30)) {
            return NULL;
        }
    }
    shutdown(ax_sock_fd(r->up_out), SHUT_WR);
    return NULL;
}

static void *relay_down(void *arg)
{
    relay *r = arg;
    char b[16384];
    ssize_t n;

    while ((n = ax_read(r->down_in, b, sizeof b, 30)) > 0)
        if (ax_write_all(r->down_out, b, (size_t)n, 30))
            break;
    shutdown(ax_sock_fd(r->down_out), SHUT_WR);
    return NULL;
}

static void *relay_client(void *arg)
{
    relay *r = arg;
    ax_tls *t;
    char *rec = malloc(r->rlen);

    axt_assert_rc(ax_tls_client(&t, r->ccx, r->client_end, "localhost", 30),
                  0);
    for (int i = 0; i < 3000 && !r->accepted; i++) /* hang guard: 30 s */
        ax_sleep(0.01);
    ck_assert(r->accepted);
    for (size_t i = 0; i < r->records; i++) {
        memset(rec, 'a' + (int)(i % 26), r->rlen);
        /* One call, one record (r->rlen <= 16 KiB). */
        axt_assert_rc((int)ax_tls_write(t, rec, r->rlen, 30),
                      (int)r->rlen);
    }
    if (r->mode != CUT_TRUNCATE)
        axt_assert_rc(ax_tls_shutdown(t, false, 30), 0);
    ax_tls_close(t);
    free(rec);
    return NULL;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    ax_sock *l, *srv, *a, *b;
    ax_task *tc, *tu, *td;
    ax_tls *t;
    int sv[2], mode = r->mode;
    char *buf = malloc(r->rlen);

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    axt_assert_rc(ax_sock_wrap(sv[0], &a), 0); /* the client's end */
    axt_assert_rc(ax_sock_wrap(sv[1], &b), 0); /* the relay's end */
    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    axt_assert_rc(ax_connect(&r->up_out, "127.0.0.1", ax_sock_port(l), 30),
                  0);
    axt_assert_rc(ax_accept(l, &srv, 30), 0);
    r->client_end = a;
    r->up_in = b;
    r->down_in = r->up_out;
    r->down_out = b;
    /* Until the handshake is done the relay passes bytes as they come. */
    r->mode = mode == CUT_TRUNCATE ? CUT_NONE : mode;
    axt_assert_rc(ax_spawn(&tu, relay_up, r), 0);
    axt_assert_rc(ax_spawn(&td, relay_down, r), 0);
    axt_assert_rc(ax_spawn(&tc, relay_client, r), 0);
    axt_assert_rc(ax_tls_accept(&t, r->scx, srv, 30), 0);
    r->mode = mode;
    r->accepted = true;
    r->server_got = 0;
    for (size_t i = 0; i < r->records; i++) {
        int rc = ax_tls_read_exact(t, buf, r->rlen, 30);
        if (rc) {
            r->server_rc = rc;
            break;
        }
        for (size_t k = 0; k < r->rlen; k++)
            ck_assert_int_eq(buf[k], 'a' + (int)(i % 26));
        r->server_got++;
    }
    if (!r->server_rc)
        r->server_rc = ax_tls_read(t, buf, r->rlen, 30); /* close_notify */
    ax_tls_close(t);
    ax_close(srv);
    axt_assert_rc(ax_await(tc, NULL), 0);
    ax_close(a); /* the relay's reads see the end */
    axt_assert_rc(ax_await(tu, NULL), 0);
    axt_assert_rc(ax_await(td, NULL), 0);
    ax_close(b);
    ax_close(r->up_out);
    ax_close(l);
    free(buf);
    return NULL;
}

static void run_relay(relay *r)
{
    r->scx = server_ctx("good", NULL);
    r->ccx = client_ctx(true, NULL);
    run_real(relay_main, r);
    ax_tls_ctx_free(r->scx);
    ax_tls_ctx_free(r->ccx);
}

/* Every record in single bytes, the handshake's too: the server (reading
 * ahead) waits for the rest of each and gets every byte right. */
START_TEST(test_records_one_byte_at_a_time)
{
    relay r = {.mode = CUT_BYTES, .records = 3, .rlen = 700};

    NEED_CERTS();
    run_relay(&r);
    ck_assert_int_eq(r.server_got, 3);
    ck_assert_int_eq(r.server_rc, 0); /* then the client's close_notify */
}
END_TEST

/* Many small records arriving together (the relay reads and forwards up
 * to 16 KiB at once), then records of the maximum size: one recv() holds
 * many records, or a part of one, and none is lost or repeated. */
START_TEST(test_many_records_in_one_read)
{
    /* Fewer under valgrind, where each record costs ~50x more. */
    size_t n = getenv("AX_UNDER_VALGRIND") ? 200 : 2000;
    relay r = {.mode = CUT_NONE, .records = n, .rlen = 7};
    relay big = {.mode = CUT_NONE, .records = n / 50, .rlen = 16384};

    NEED_CERTS();
    run_relay(&r);
    ck_assert_int_eq(r.server_got, n);
    ck_assert_int_eq(r.server_rc, 0);
    run_relay(&big);
    ck_assert_int_eq(big.server_got, n / 50);
    ck_assert_int_eq(big.server_rc, 0);
}
END_TEST

/* The peer stops in the middle of a record and closes: the read fails
 * with AX_EPIPE (no close_notify), neither 0 (a clean end) nor a hang. */
START_TEST(test_peer_closes_mid_record)
{
    relay r = {.mode = CUT_TRUNCATE, .records = 1, .rlen = 100};

    NEED_CERTS();
    run_relay(&r);
    ck_assert_int_eq(r.server_got, 0);
    axt_assert_rc((int)r.server_rc, AX_EPIPE);
}
END_TEST

/* ---- keep-alive rounds, then the client goes ---------------------------- */

typedef struct rounds {
    ax_tls_ctx *scx, *ccx;
    int port, n;
    bool reset; /* the client resets rather than sending a FIN */
} rounds;

static void *rounds_client(void *arg)
{
    rounds *r = arg;
    ax_sock *s;
    ax_tls *t;
    char *line;
    size_t len;
    int fd;

    axt_assert_rc(ax_connect(&s, "127.0.0.1", r->port, 30), 0);
    axt_assert_rc(ax_tls_client(&t, r->ccx, s, "localhost", 30), 0);
    for (int i = 0; i < r->n; i++) {
        axt_assert_rc(ax_tls_write_all(t, "req\n", 4, 30), 0);
        axt_assert_rc(ax_tls_read_until(t, "\n", &line, &len, 100, 30), 0);
        ck_assert_uint_eq(len, 3);
    }
    /* Gone without a close_notify: the socket is shut first, so the one
     * ax_tls_close() would send cannot go out. */
    fd = ax_sock_fd(s);
    if (r->reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        ck_assert_int_eq(
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        ck_assert_int_eq(shutdown(fd, SHUT_RD), 0);
    } else {
        ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    }
    ax_tls_close(t);
    axt_assert_rc(ax_close(s), 0);
    return NULL;
}

static void *rounds_main(void *arg)
{
    rounds *r = arg;
    ax_sock *l, *c;
    ax_task *ct;
    ax_tls *t;
    char *line;
    size_t len;
    int served = 0, rc;

    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    r->port = ax_sock_port(l);
    axt_assert_rc(ax_spawn(&ct, rounds_client, r), 0);
    axt_assert_rc(ax_accept(l, &c, 30), 0);
    axt_assert_rc(ax_tls_accept(&t, r->scx, c, 30), 0);
    /* Each request is read short and answered: every read after the first
     * says "empty" without a recv() and waits for the next edge. */
    while (!(rc = ax_tls_read_until(t, "\n", &line, &len, 100, 30))) {
        served++;
        axt_assert_rc(ax_tls_write_all(t, "ok\n", 3, 30), 0);
    }
    ck_assert_int_eq(served, r->n);
    ck_assert_msg(rc == AX_EPIPE || rc == AX_ECONNRESET,
                  "read after the client went: %d (%s)", rc,
                  ax_err_name(rc));
    ax_tls_close(t);
    axt_assert_rc(ax_close(c), 0);
    axt_assert_rc(ax_await(ct, NULL), 0);
    ax_close(l);
    return NULL;
}

/* Keep-alive rounds over TLS, then the client leaves without a
 * close_notify, with a FIN and with a reset: the server's read that
 * skipped its recv() (ax_try_read() in the BIO) ends with AX_EPIPE or
 * AX_ECONNRESET, not a hang. */
START_TEST(test_rounds_then_peer_gone)
{
    for (int reset = 0; reset < 2; reset++) {
        rounds r = {.n = 20, .reset = reset};

        NEED_CERTS();
        r.scx = server_ctx("good", NULL);
        r.ccx = client_ctx(true, NULL);
        run_real(rounds_main, &r);
        ax_tls_ctx_free(r.scx);
        ax_tls_ctx_free(r.ccx);
    }
}
END_TEST

typedef struct zt {
    rounds *r;
    ax_sock *cs;
    ax_tls *ct;
} zt;

static void *zt_client_hs(void *arg)
{
    zt *z = arg;

    axt_assert_rc(ax_tls_client(&z->ct, z->r->ccx, z->cs, "localhost", 30),
                  0);
    return NULL;
}

static void *zero_timeout_main(void *arg)
{
    zt z = {.r = arg};
    ax_sock *l, *c;
    ax_task *h;
    ax_tls *t;
    char buf[16];

    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    axt_assert_rc(ax_connect(&z.cs, "127.0.0.1", ax_sock_port(l), 30), 0);
    axt_assert_rc(ax_accept(l, &c, 30), 0);
    axt_assert_rc(ax_spawn(&h, zt_client_hs, &z), 0);
    axt_assert_rc(ax_tls_accept(&t, z.r->scx, c, 30), 0);
    axt_assert_rc(ax_await(h, NULL), 0);
    axt_assert_rc((int)ax_tls_write(z.ct, "req", 3, 30), 3);
    axt_assert_rc((int)ax_tls_read(t, buf, sizeof buf, 30), 3); /* short */
    axt_assert_rc((int)ax_tls_write(t, "resp", 4, 30), 4);
    axt_assert_rc((int)ax_tls_read(z.ct, buf, sizeof buf, 30), 4);
    /* The server's socket is known empty now. A record comes whose edge
     * the loop has not polled (this task does not suspend): a zero
     * timeout still takes it. */
    axt_assert_rc((int)ax_tls_write(z.ct, "zz", 2, 30), 2);
    for (int q = 0; q < 1;)
        ck_assert_int_eq(ioctl(ax_sock_fd(c), FIONREAD, &q), 0);
    axt_assert_rc((int)ax_tls_read(t, buf, sizeof buf, 0), 2);
    ck_assert_int_eq(memcmp(buf, "zz", 2), 0);
    axt_assert_rc((int)ax_tls_read(t, buf, sizeof buf, 0), AX_ETIMEDOUT);
    axt_assert_rc(ax_tls_close(z.ct), 0);
    axt_assert_rc(ax_tls_close(t), 0);
    ax_close(z.cs);
    ax_close(c);
    ax_close(l);
    return NULL;
}

/* A zero timeout after a request was answered is still a look at the
 * socket, not at the last edge: a record already there is read. */
START_TEST(test_zero_timeout_after_answer)
{
    rounds r = {.n = 0};

    NEED_CERTS();
    r.scx = server_ctx("good", NULL);
    r.ccx = client_ctx(true, NULL);
    run_real(zero_timeout_main, &r);
    ax_tls_ctx_free(r.scx);
    ax_tls_ctx_free(r.ccx);
}
END_TEST

/* TLS 1.3 session tickets (sent after the handshake, kept and sent
 * together) reach the client intact: openssl s_client saves the session
 * and a second s_client resumes it. */
static void *resume_main(void *arg)
{
    ax_tls_ctx *cx = server_ctx("good", NULL);
    ax_sock *l, *c;
    ax_tls *t;
    char hp[64], out[8192], *line;
    size_t len;
    FILE *f;

    (void)arg;
    f = fopen(P("resume.in"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("ping\n", f);
    fclose(f);
    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", ax_sock_port(l));
    for (int i = 0; i < 2; i++) {
        char *argv[] = {"openssl", "s_client", "-connect", hp,
                        "-servername", "localhost", "-CAfile",
                        (char *)P("ca.pem"), "-tls1_3", "-ign_eof",
                        i ? "-sess_in" : "-sess_out", (char *)P("sess.pem"),
                        NULL};
        pid_t pid = spawn(argv, P("resume.in"), P("resume.out"));
        axt_assert_rc(ax_accept(l, &c, 30), 0);
        axt_assert_rc(ax_tls_accept(&t, cx, c, 30), 0);
        axt_assert_rc(ax_tls_read_until(t, "\n", &line, &len, 100, 30), 0);
        axt_assert_rc(ax_tls_write_all(t, "pong\n", 5, 30), 0);
        axt_assert_rc(ax_tls_shutdown(t, false, 30), 0);
        axt_assert_rc(ax_tls_close(t), 0);
        axt_assert_rc(ax_close(c), 0);
        int st = reap(pid);
        slurp(P("resume.out"), out, sizeof out);
        ck_assert_msg(st == 0, "s_client exit %d: %s", st, out);
        ck_assert_msg(strstr(out, "pong\n"), "s_client: %s", out);
        if (i)
            ck_assert_msg(strstr(out, "Reused, TLSv1.3"),
                          "no resumption: %s", out);
    }
    ax_close(l);
    ax_tls_ctx_free(cx);
    return NULL;
}

START_TEST(test_session_tickets_resume)
{
    NEED_CERTS();
    run_real(resume_main, NULL);
}
END_TEST

Suite *ax_tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");

    tcase_set_timeout(tc, AXT_TIMEOUT);
    tcase_add_test(tc, test_curl_to_axon_server);
    tcase_add_test(tc, test_s_client_to_axon_server);
    tcase_add_test(tc, test_axon_client_to_nginx);
    tcase_add_test(tc, test_axon_to_axon_echo_1mb);
    tcase_add_test(tc, test_plaintext_client_on_tls_port);
    tcase_add_test(tc, test_handshake_never_finishes);
    tcase_add_test(tc, test_expired_certificate);
    tcase_add_test(tc, test_wrong_host_certificate);
    tcase_add_test(tc, test_unknown_ca_and_insecure);
    tcase_add_test(tc, test_bad_files_and_options);
    tcase_add_test(tc, test_misuse);
    tcase_add_test(tc, test_http_hello_tls);
    tcase_add_test(tc, test_sni_certificate_by_name);
    tcase_add_test(tc, test_sni_s_client_subject);
    tcase_add_test(tc, test_sni_add_cert_bad_input);
    tcase_add_test(tc, test_records_one_byte_at_a_time);
    tcase_add_test(tc, test_many_records_in_one_read);
    tcase_add_test(tc, test_peer_closes_mid_record);
    tcase_add_test(tc, test_session_tickets_resume);
    tcase_add_test(tc, test_rounds_then_peer_gone);
    tcase_add_test(tc, test_zero_timeout_after_answer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rc;

    snprintf(dir, sizeof dir, "%s/axtls.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        dir[0] = '\0';
    else
        have_certs = make_certs();
    start_nginx();
    rc = ax_test_main(ax_tls_suite());
    cleanup();
    return rc;
}
