/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_http.c: libFuzzer target for http-hello's request-head
 * parser. http-hello.c is compiled in whole (its main renamed), so the
 * target runs the server's own parse_head(), as handle() calls it: on the
 * bytes up to the first empty line, leading empty lines skipped.
 *
 * Checked on every input: the parser answers OK or one of its statuses,
 * and a body length it accepts is within the limit.
 */
int http_hello_main(int argc, char **argv);
#define main http_hello_main
#include "../../examples/servers/http-hello.c"
#undef main

#include <assert.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const char *p = (const char *)data, *end;
    size_t len;
    request rq;
    int rc;

    if (n > MAX_HEAD)
        return 0; /* the server answers 431 before parsing */
    end = memmem(p, n, "\r\n\r\n", 4);
    if (!end)
        return 0;
    len = (size_t)(end - p) + 4;
    while (len >= 2 && p[0] == '\r' && p[1] == '\n') {
        p += 2;
        len -= 2;
    }
    if (len < 4)
        return 0;
    /* A copy of exactly the head: reading past it is an ASan error. */
    char *head = malloc(len);
    if (!head)
        return 0;
    memcpy(head, p, len);
    rc = parse_head(head, len, &rq);
    assert(rc == PARSE_OK || rc == PARSE_BAD || rc == PARSE_TOO_LARGE ||
           rc == PARSE_TE);
    if (rc == PARSE_OK) {
        assert(!(rq.chunked && rq.has_len));
        assert(!rq.has_len || rq.body_len <= MAX_BODY);
    }
    free(head);
    return 0;
}
