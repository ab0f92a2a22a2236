/* SPDX-License-Identifier: MIT */
/*
 * evhttp_hello: libevent's evhttp answering every request with
 * "Hello, World!", the plain-libevent peer of examples/http-hello in
 * bench/servers.sh. Not built by make; the script compiles it with
 *
 *   cc -O2 -o evhttp_hello bench/evhttp_hello.c $(pkg-config --cflags --libs libevent)
 *
 *   evhttp_hello [--host H] [--port N]
 *
 * One thread, one event_base (evhttp has no multi-threaded mode). Prints
 * "listening on HOST:PORT" once bound (port 0: any free port); SIGINT and
 * SIGTERM stop it with exit status 0.
 */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static void on_request(struct evhttp_request *req, void *arg)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    (void)arg;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain");
    evbuffer_add(out, "Hello, World!", 13);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

static int bound_port(struct evhttp_bound_socket *bs)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 8081;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bs;
    struct event *sigint, *sigterm;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--host") && i + 1 < argc) {
            host = argv[++i];
        } else if (!strcmp(argv[i], "--port") && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--help")) {
            printf("usage: %s [--host H] [--port N]\n", argv[0]);
            return 0;
        } else {
            fprintf(stderr, "usage: %s [--host H] [--port N]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (!base) {
        fprintf(stderr, "evhttp_hello: event_base_new failed\n");
        return 1;
    }
    http = evhttp_new(base);
    if (!http) {
        fprintf(stderr, "evhttp_hello: evhttp_new failed\n");
        return 1;
    }
    evhttp_set_gencb(http, on_request, NULL);
    bs = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
    if (!bs) {
        fprintf(stderr, "evhttp_hello: cannot bind %s:%d\n", host, port);
        return 1;
    }
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    printf("listening on %s:%d\n", host, bound_port(bs));
    fflush(stdout);
    event_base_dispatch(base);
    event_free(sigint);
    event_free(sigterm);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
