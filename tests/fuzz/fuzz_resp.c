/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_resp.c: libFuzzer target for kv-server's RESP request
 * parser (multibulk, inline, stray bulk) and its append-only file record
 * parser. kv-server.c is compiled in whole (its main renamed), so the
 * target runs the server's own static functions, not a copy.
 *
 * Checked on every input: arguments lie inside the input; an error reply
 * naming a command holds no CR or LF before its end (one request, one
 * reply); the inline header reader agrees with the general one at every
 * '*' and '$'; AOF records end inside the input.
 */
int kv_server_main(int argc, char **argv);
#define main kv_server_main
#include "../../examples/servers/kv-server.c"
#undef main

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    conn c = {0};

    if (!(c.buf = malloc(n + 1)))
        return 0;
    if (n)
        memcpy(c.buf, data, n);
    c.len = n;
    c.cap = n + 1;
    while (c.pos < c.len && !c.proto_err && !c.nomem) {
        size_t need = 0, mark = c.nargs, before = c.pos;
        int rc = c.buf[c.pos] == '*'   ? parse_multibulk(&c, &need)
                 : c.buf[c.pos] == '$' ? parse_stray_bulk(&c)
                                       : parse_inline(&c);
        if (rc != P_CMD)
            break;
        assert(c.pos > before && c.pos <= c.len);
        for (size_t i = mark; i < c.nargs; i++)
            assert(c.args[i].p >= c.buf &&
                   c.args[i].p + c.args[i].len <= c.buf + c.len);
        if (c.nargs > mark && !lookup(&c.args[mark])) {
            size_t o = c.olen;
            out_errf(&c, "-ERR unknown command '%.*s'\r\n", &c.args[mark]);
            for (size_t i = o; i + 2 < c.olen; i++)
                assert(c.out[i] != '\r' && c.out[i] != '\n');
        }
        c.nargs = 0;
    }
    /* The inline one- and two-digit headers say what the general reader
     * says, wherever a header could start. */
    c.pos = 0;
    c.proto_err = NULL;
    for (size_t i = 0; i < n; i++) {
        long long a = -7, b = -7;
        size_t na = 0, nb = 0;
        const char *ea, *eb;
        int ra, rb;
        if (c.buf[i] != '*' && c.buf[i] != '$')
            continue;
        ra = header(&c, i, &a, &na, "too long");
        ea = c.proto_err;
        c.proto_err = NULL;
        rb = header_any(&c, i, &b, &nb, "too long");
        eb = c.proto_err;
        c.proto_err = NULL;
        assert(ra == rb && ea == eb);
        if (ra == P_CMD)
            assert(a == b && na == nb && na > i && na <= n);
    }
    conn_free(&c);

    /* The AOF's record reader on the same bytes. */
    for (size_t off = 0; off < n;) {
        slice a[3];
        size_t na = 0, used = 0;
        if (aof_record((const char *)data + off, n - off, a, &na, &used) != 1)
            break;
        assert(used > 0 && used <= n - off && na >= 1 && na <= 3);
        for (size_t i = 0; i < na; i++)
            assert(a[i].p >= (const char *)data + off &&
                   a[i].p + a[i].len <= (const char *)data + off + used);
        off += used;
    }
    return 0;
}
