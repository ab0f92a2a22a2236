/* SPDX-License-Identifier: MIT */
/*
 * dns: name lookups per second two ways, to measure the choice behind
 * ax_getaddrinfo(): libevent's evdns on the loop (ax_getaddrinfo) against
 * the C library's getaddrinfo() on the thread pool (ax_to_thread). Two
 * names: one from the hosts file ("localhost", /etc/hosts) and one from a
 * dnsmasq this program starts on a free loopback port (glibc is pointed
 * at it through the pool thread's own _res). Each way runs sequentially
 * (one task, one lookup at a time) and with 64 tasks at once. Prints
 * figures, asserts nothing; without dnsmasq the DNS rows are left out.
 *
 *   dns [count]          (2,000 lookups per row)
 */
#define BENCH_NAME "dns"
#include "bench.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TASKS 64

static long count = 2000;
static int dns_port;

typedef struct job {
    const char *host;
    long n;
    bool pool;
} job;

/* glibc asks the servers of the calling thread's _res: point a pool
 * thread's at dnsmasq (res_init() once per thread). */
static void *gai_job(void *arg)
{
    static __thread bool ready;
    struct addrinfo h, *res = NULL;
    int rc;

    if (!ready && dns_port) {
        res_init();
        _res.nscount = 1;
        _res.nsaddr_list[0].sin_family = AF_INET;
        _res.nsaddr_list[0].sin_port = htons((uint16_t)dns_port);
        _res.nsaddr_list[0].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ready = true;
    }
    memset(&h, 0, sizeof h);
    h.ai_family = AF_INET;
    h.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(arg, "80", &h, &res);
    if (!rc)
        freeaddrinfo(res);
    return (void *)(intptr_t)rc;
}

static void *worker(void *arg)
{
    job *j = arg;
    struct addrinfo h, *res;

    memset(&h, 0, sizeof h);
    h.ai_family = AF_INET;
    h.ai_socktype = SOCK_STREAM;
    for (long i = 0; i < j->n; i++) {
        int rc;
        if (j->pool) {
            void *r = NULL;
            rc = ax_to_thread(gai_job, (void *)j->host, &r);
            if (!rc && r)
                die("getaddrinfo on the pool", AX_ENONAME);
        } else {
            rc = ax_getaddrinfo(j->host, "80", &h, &res, -1);
            if (!rc)
                ax_freeaddrinfo(res);
        }
        if (rc)
            die(j->host, rc);
    }
    return NULL;
}

static void row(const char *host, const char *what, bool pool, int tasks)
{
    ax_task *t[TASKS];
    job j = {.host = host, .n = count / tasks, .pool = pool};
    int64_t t0 = mono_ns();
    double secs, rate;
    int rc;

    for (int i = 0; i < tasks; i++)
        if ((rc = ax_spawn(&t[i], worker, &j)))
            die("spawn", rc);
    for (int i = 0; i < tasks; i++)
        ax_await(t[i], NULL);
    secs = (mono_ns() - t0) / 1e9;
    rate = (double)(j.n * tasks) / secs;
    printf("%-40s %-24s %3d task(s) %10.0f lookups/s %8.1f us each\n", what,
           pool ? "getaddrinfo on the pool" : "evdns on the loop", tasks,
           rate, secs * 1e6 / (double)(j.n * tasks));
    printf("RESULT dns_%s_%s_%d %s %.6g lookups/s higher\n",
           strcmp(host, "localhost") ? "dnsmasq" : "hosts",
           pool ? "pool" : "evdns", tasks, sysname(), rate);
}

static void *bench_main(void *arg)
{
    (void)arg;
    for (int k = 0; k < 2; k++) {
        const char *host = k ? "bench.test" : "localhost";
        const char *what = k ? "bench.test (dnsmasq on loopback)"
                             : "localhost (/etc/hosts)";
        if (k && !dns_port) {
            printf("(no dnsmasq: the DNS rows are left out)\n");
            break;
        }
        row(host, what, false, 1);
        row(host, what, true, 1);
        row(host, what, false, TASKS);
        row(host, what, true, TASKS);
    }
    return NULL;
}

static pid_t start_dnsmasq(char *dir)
{
    char hosts[128], port_arg[32], hosts_arg[160];
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    FILE *f;
    pid_t pid;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &n))
        return 0;
    close(fd);
    if (access("/usr/sbin/dnsmasq", X_OK) || !mkdtemp(dir))
        return 0;
    chmod(dir, 0755);
    snprintf(hosts, sizeof hosts, "%s/hosts", dir);
    if (!(f = fopen(hosts, "w")))
        return 0;
    fputs("127.0.0.1 bench.test\n", f);
    fclose(f);
    chmod(hosts, 0644);
    snprintf(port_arg, sizeof port_arg, "--port=%d", ntohs(a.sin_port));
    snprintf(hosts_arg, sizeof hosts_arg, "--addn-hosts=%s", hosts);
    pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        freopen("/dev/null", "w", stderr);
        execl("/usr/sbin/dnsmasq", "dnsmasq", "--conf-file=/dev/null",
              "--no-daemon", "--no-resolv", "--no-hosts", hosts_arg,
              port_arg, "--listen-address=127.0.0.1", "--bind-interfaces",
              "--local=/test/", "--pid-file=", (char *)NULL);
        _exit(127);
    }
    usleep(300000); /* its start; a lookup before it fails the row */
    dns_port = ntohs(a.sin_port);
    return pid;
}

int main(int argc, char **argv)
{
    char dir[64], env[64], hosts[160];
    pid_t pid;
    int rc;

    if (argc > 1)
        count = atol(argv[1]);
    if (count < TASKS)
        count = TASKS;
    snprintf(dir, sizeof dir, "/tmp/axdnsbench.XXXXXX");
    pid = start_dnsmasq(dir);
    if (pid > 0) {
        snprintf(env, sizeof env, "127.0.0.1:%d", dns_port);
        setenv("AX_DNS_SERVER", env, 1);
    }
    rc = ax_run(bench_main, NULL, NULL);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        snprintf(hosts, sizeof hosts, "%s/hosts", dir);
        unlink(hosts);
        rmdir(dir);
    }
    return rc ? 1 : 0;
}
