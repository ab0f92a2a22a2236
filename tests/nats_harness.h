/* SPDX-License-Identifier: MIT */
/*
 * tests/nats_harness.h -- real nats-server processes and helper processes
 * for tests/check_node.c, on free loopback ports.
 *
 * Every child is started with PR_SET_PDEATHSIG = SIGKILL, so it dies with
 * the test process whatever way that ends (a failed assertion exits the
 * forked Check child; a crash kills it); axn_kill() stops it earlier.
 */
#ifndef AXT_NATS_HARNESS_H
#define AXT_NATS_HARNESS_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

typedef struct axn_proc {
    pid_t pid;
    int out; /* the child's stdout (helpers), or -1 */
} axn_proc;

/* fork + exec argv with the death signal set; stdout to a pipe if
 * @p want_out, else to /dev/null (stderr is kept for diagnostics of the
 * helpers, dropped for the servers). */
static axn_proc axn_spawn(char *const argv[], bool want_out, bool quiet)
{
    axn_proc p = {-1, -1};
    int fds[2] = {-1, -1};
    pid_t parent = getpid();

    if (want_out && pipe(fds) != 0)
        return p;
    p.pid = fork();
    if (p.pid == 0) {
        int nul = open("/dev/null", O_RDWR);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (want_out) {
            dup2(fds[1], 1);
            close(fds[0]);
            close(fds[1]);
        } else {
            dup2(nul, 1);
        }
        if (quiet)
            dup2(nul, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    if (want_out) {
        close(fds[1]);
        p.out = fds[0];
    }
    return p;
}

static void axn_kill(axn_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    if (p->out >= 0)
        close(p->out);
    p->pid = -1;
    p->out = -1;
}

/* Wait for a helper to exit; its status, or -1 after @p seconds. */
static int axn_wait(axn_proc *p, double seconds)
{
    int st, i;

    for (i = 0; i < (int)(seconds * 100); i++) {
        if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
            p->pid = -1;
            if (p->out >= 0)
                close(p->out);
            p->out = -1;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        usleep(10000);
    }
    return -1;
}

/* Read a line from a helper's stdout (bounded wait); false on timeout or
 * end of file. */
static bool axn_read_line(axn_proc *p, char *buf, size_t n, double seconds)
{
    size_t k = 0;
    struct pollfd pf = {p->out, POLLIN, 0};

    while (k + 1 < n) {
        char c;
        if (poll(&pf, 1, (int)(seconds * 1000)) <= 0 || read(p->out, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        buf[k++] = c;
    }
    buf[k] = '\0';
    return true;
}

/* A nats-server on 127.0.0.1:@p port; with @p cport > 0 a cluster member
 * listening for routes there and soliciting @p routes (may be NULL);
 * @p conf: NULL or a config file's text (max_payload, ...). Waits until
 * the client port accepts connections (10 s at most). */
static axn_proc axn_server(int port, int cport, const char *routes,
                           const char *conf)
{
    char ps[16], cl[64], rt[512], cf[64];
    char *argv[16];
    int i = 0, k;
    axn_proc p = {-1, -1};

    if (!AX_NATS_SERVER[0])
        return p;
    snprintf(ps, sizeof ps, "%d", port);
    argv[i++] = (char *)AX_NATS_SERVER;
    argv[i++] = (char *)"-a";
    argv[i++] = (char *)"127.0.0.1";
    argv[i++] = (char *)"-p";
    argv[i++] = ps;
    if (conf) {
        FILE *f;
        snprintf(cf, sizeof cf, "/tmp/axt-nats-%d-%d.conf", (int)getpid(),
                 port);
        if (!(f = fopen(cf, "w")))
            return p;
        fputs(conf, f);
        fclose(f);
        argv[i++] = (char *)"-c";
        argv[i++] = cf;
    }
    if (cport > 0) {
        snprintf(cl, sizeof cl, "nats://127.0.0.1:%d", cport);
        argv[i++] = (char *)"--cluster_name";
        argv[i++] = (char *)"axt";
        argv[i++] = (char *)"--cluster";
        argv[i++] = cl;
        if (routes) {
            snprintf(rt, sizeof rt, "%s", routes);
            argv[i++] = (char *)"--routes";
            argv[i++] = rt;
        }
    }
    argv[i] = NULL;
    p = axn_spawn(argv, false, true);
    for (k = 0; k < 1000 && p.pid > 0; k++) {
        if (axt_port_open(port))
            break;
        usleep(10000);
    }
    if (conf)
        unlink(cf);
    if (k == 1000)
        axn_kill(&p);
    return p;
}

#endif
