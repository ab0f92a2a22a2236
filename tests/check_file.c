/* SPDX-License-Identifier: MIT */
/*
 * check_file.c: tests for axon/file.h (whole-file read and write on the
 * thread pool, sendfile to a socket).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_file_suite(void);

static char dir[64];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/axfileXXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void *roundtrip_body(void *arg)
{
    char path[128], *big = malloc(100000);
    void *buf = NULL;
    size_t len = 0;
    struct stat st;

    (void)arg;
    for (size_t i = 0; i < (size_t)100000; i++)
        big[i] = (char)('a' + i % 26);
    snprintf(path, sizeof path, "%s/data", dir);
    axt_assert_rc(ax_file_write(path, big, (size_t)100000, -1), 0);
    axt_assert_rc(ax_file_read(path, &buf, &len, 0, -1), 0);
    ck_assert_uint_eq(len, (size_t)100000);
    ck_assert_int_eq(memcmp(buf, big, len), 0);
    ck_assert_int_eq(((char *)buf)[len], '\0');
    free(buf);
    /* Replaced whole, no temporary file left beside it. */
    axt_assert_rc(ax_file_write(path, "short", 5, -1), 0);
    axt_assert_rc(ax_file_read(path, &buf, &len, 0, -1), 0);
    ck_assert_uint_eq(len, 5);
    ck_assert_str_eq(buf, "short");
    free(buf);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_size, 5);
    /* Empty files, and the limit. */
    axt_assert_rc(ax_file_write(path, NULL, 0, -1), 0);
    axt_assert_rc(ax_file_read(path, &buf, &len, 0, -1), 0);
    ck_assert_uint_eq(len, 0);
    free(buf);
    axt_assert_rc(ax_file_write(path, big, (size_t)100000, -1), 0);
    buf = AXT_P(0x1);
    axt_assert_rc(ax_file_read(path, &buf, &len, 1000, -1), AX_E2BIG);
    ck_assert_ptr_eq(buf, AXT_P(0x1));
    /* A file whose size says 0. */
    axt_assert_rc(ax_file_read("/proc/self/status", &buf, &len, 0, -1), 0);
    ck_assert_ptr_nonnull(strstr(buf, "Name:"));
    free(buf);
    free(big);
    return NULL;
}

START_TEST(test_read_write_roundtrip)
{
    mkdir_tmp();
    AXT_RUN_CLEAN(roundtrip_body, NULL, NULL);
    rm_tmp();
}
END_TEST

static void *errors_body(void *arg)
{
    char path[128];
    void *buf = AXT_P(0x1);
    size_t len;

    (void)arg;
    snprintf(path, sizeof path, "%s/missing", dir);
    axt_assert_rc(ax_file_read(path, &buf, &len, 0, -1), -ENOENT);
    axt_assert_rc(ax_file_read(dir, &buf, &len, 0, -1), -EISDIR);
    snprintf(path, sizeof path, "%s/no/such/dir/file", dir);
    axt_assert_rc(ax_file_write(path, "x", 1, -1), -ENOENT);
    /* Bad input, named. */
    axt_assert_rc(ax_file_read(NULL, &buf, &len, 0, -1), AX_EINVAL);
    axt_assert_rc(ax_file_read("", &buf, &len, 0, -1), AX_EINVAL);
    axt_assert_rc(ax_file_read(path, NULL, &len, 0, -1), AX_EINVAL);
    axt_assert_rc(ax_file_read(path, &buf, NULL, 0, -1), AX_EINVAL);
    axt_assert_rc(ax_file_read(path, &buf, &len, 0, -2), AX_EINVAL);
    axt_assert_rc(ax_file_write(NULL, "x", 1, -1), AX_EINVAL);
    axt_assert_rc(ax_file_write("", "x", 1, -1), AX_EINVAL);
    axt_assert_rc(ax_file_write(path, NULL, 1, -1), AX_EINVAL);
    axt_assert_rc(ax_file_read(path, &buf, &len, 0, ax_now_ns()),
                  AX_ETIMEDOUT);
    ck_assert_ptr_eq(buf, AXT_P(0x1));
    axt_assert_rc(ax_sendfile(NULL, 0, NULL, 1, -1), AX_EINVAL);
    return NULL;
}

START_TEST(test_errors_and_bad_input)
{
    void *buf;
    size_t len;

    mkdir_tmp();
    AXT_RUN_CLEAN(errors_body, NULL, NULL);
    axt_assert_rc(ax_file_read("/etc/hostname", &buf, &len, 0, -1),
                  AX_ENOTTASK);
    axt_assert_rc(ax_file_write("/tmp/x", "x", 1, -1), AX_ENOTTASK);
    rm_tmp();
}
END_TEST

/* sendfile: 3 MB through a socket whose reader is slower than the
 * writer, so the writer waits for room many times. */
enum { SF_SIZE = 3 << 20 };

typedef struct sf {
    int port;
    char path[128];
} sf;

static void *sf_server(void *arg)
{
    sf *x = arg;
    ax_sock *l, *c;
    off_t off = 100; /* from an offset on */
    int fd;
    ssize_t n;

    axt_assert_rc(ax_tcp_listen(&l, "127.0.0.1", 0, NULL), 0);
    x->port = ax_sock_port(l);
    axt_assert_rc(ax_accept(l, &c, -1), 0);
    fd = open(x->path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    n = ax_sendfile(c, fd, &off, SF_SIZE, -1);
    ck_assert_int_eq(n, SF_SIZE - 100); /* the file ended first */
    ck_assert_int_eq(off, SF_SIZE);
    ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0); /* its offset untouched */
    close(fd);
    ax_close(c);
    ax_close(l);
    return NULL;
}

static void *sf_body(void *arg)
{
    sf *x = arg;
    ax_task *t;
    ax_sock *c;
    char *got = malloc(SF_SIZE), *want = NULL;
    size_t len = 0, have = 0;

    axt_spawn(&t, sf_server, x);
    while (!x->port)
        ax_yield();
    axt_assert_rc(ax_connect(&c, "127.0.0.1", x->port, -1), 0);
    /* Never offer ax_read more room than the buffer has left: the read
     * that meets end of stream still points at that room. Once the buffer
     * is full, a spare byte shows that nothing more than promised came. */
    for (;;) {
        char spare;
        size_t room = SF_SIZE - have;
        ssize_t r;

        if (room == 0) {
            ck_assert_int_eq(ax_read(c, &spare, 1, -1), 0);
            break;
        }
        r = ax_read(c, got + have, room < 8192 ? room : 8192, -1);
        ck_assert_int_ge(r, 0);
        if (r == 0)
            break;
        have += (size_t)r;
    }
    ck_assert_uint_eq(have, SF_SIZE - 100);
    axt_assert_rc(ax_file_read(x->path, (void **)&want, &len, 0, -1), 0);
    ck_assert_int_eq(memcmp(got, want + 100, have), 0);
    free(want);
    free(got);
    ax_close(c);
    axt_await_task(t, 0);
    return NULL;
}

START_TEST(test_sendfile_to_socket)
{
    sf x = {0};
    char *data = malloc(SF_SIZE);
    FILE *f;

    mkdir_tmp();
    for (size_t i = 0; i < SF_SIZE; i++)
        data[i] = (char)(i * 7 + i / 251);
    snprintf(x.path, sizeof x.path, "%s/big", dir);
    f = fopen(x.path, "w");
    ck_assert_uint_eq(fwrite(data, 1, SF_SIZE, f), SF_SIZE);
    fclose(f);
    free(data);
    AXT_RUN_CLEAN(sf_body, &x, NULL);
    rm_tmp();
}
END_TEST

Suite *ax_file_suite(void)
{
    Suite *s = suite_create("file");
    TCase *tc = axt_tcase(s, "file");

    tcase_add_test(tc, test_read_write_roundtrip);
    tcase_add_test(tc, test_errors_and_bad_input);
    tcase_add_test(tc, test_sendfile_to_socket);
    return s;
}

#ifndef AX_TEST_NO_MAIN
int main(void)
{
    return ax_test_main(ax_file_suite());
}
#endif
