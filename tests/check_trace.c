/* SPDX-License-Identifier: MIT */
/* check_trace.c: the trace (ax_opts.trace, AX_TRACE) in Chrome's trace
 * event format, the log callback (ax_opts.log) and ax_stats_prometheus(),
 * all in runtime.h. The trace file is checked with a small JSON parser
 * (no python needed) and for the events a run must produce. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axtest.h"

Suite *ax_trace_suite(void);

/* ---- a JSON syntax check (RFC 8259, enough for the trace) -------------- */

static const char *js_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

static const char *js_value(const char *p, int depth);

static const char *js_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *js_number(const char *p)
{
    const char *s = p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p > s ? p : NULL;
}

static const char *js_seq(const char *p, char close, bool keyed, int depth)
{
    p = js_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (keyed) {
            if (!(p = js_string(p)))
                return NULL;
            p = js_ws(p);
            if (*p++ != ':')
                return NULL;
        }
        if (!(p = js_value(p, depth + 1)))
            return NULL;
        p = js_ws(p);
        if (*p == close)
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

static const char *js_value(const char *p, int depth)
{
    if (depth > 64)
        return NULL;
    p = js_ws(p);
    switch (*p) {
    case '{': return js_seq(p, '}', true, depth);
    case '[': return js_seq(p, ']', false, depth);
    case '"': return js_string(p);
    case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
    case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
    case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
    default: return js_number(p);
    }
}

static bool json_valid(const char *text)
{
    const char *end = js_value(text, 0);
    return end && *js_ws(end) == '\0';
}

static void json_selftest(void)
{
    ck_assert(json_valid("{\"a\":[1,-2.5e3,\"x\\n\",true,null,{}]}"));
    ck_assert(!json_valid("{\"a\":[1,]}"));
    ck_assert(!json_valid("{\"a\":1"));
    ck_assert(!json_valid("[1] 2"));
    ck_assert(!json_valid("{\"a\\q\":1}"));
}

/* ---- helpers ------------------------------------------------------------ */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    ck_assert(buf != NULL);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void tmp_path(char *buf, size_t cap, const char *tag)
{
    const char *dir = getenv("TMPDIR");
    snprintf(buf, cap, "%s/axon-trace-%s-%ld.json", dir && *dir ? dir : "/tmp",
             tag, (long)getpid());
}

/* ---- the traced program ------------------------------------------------- */

static void *worker(void *arg)
{
    int rc = ax_sleep(0.01);
    if (rc)
        return ax_task_fail(rc);
    return arg;
}

#if AXON_HAVE_ACTORS
static void *echo_actor(void *arg)
{
    ax_msg m;
    (void)arg;
    while (ax_recv(&m, -1) == 0) {
        if (m.tag == 2)
            ax_reply(&m, m.data);
        else if (m.tag == 3)
            break;
    }
    return NULL;
}
#endif

static void *traced_main(void *arg)
{
    ax_task_opts to;
    ax_task *t[3];
    ax_future *f[3];
    void *res[3];
    (void)arg;

    memset(&to, 0, sizeof to);
    to.name = "worker \"q\"";
    for (int i = 0; i < 3; i++) {
        to.loop = ax_loop_at(i % 2); /* loop 1: cross-loop hops */
        axt_assert_rc(ax_spawn_with(&t[i], worker, AXT_P(i + 1), &to), 0);
        f[i] = AX_FUTURE(t[i]);
    }
    axt_assert_rc(ax_gather(f, 3, res), 0);
    ck_assert_int_eq(AXT_I(res[2]), 3);
    axt_assert_rc(ax_yield(), 0);
#if AXON_HAVE_ACTORS
    ax_actor_opts ao;
    ax_actor_ref a;
    void *v = NULL;
    memset(&ao, 0, sizeof ao);
    ao.loop = ax_loop_at(1);
    axt_assert_rc(ax_actor_spawn(&a, echo_actor, NULL, &ao), 0);
    axt_assert_rc(ax_send(a, 1, NULL), 0);
    axt_assert_rc(ax_call(a, 2, AXT_P(7), 5.0, &v), 0);
    ck_assert_int_eq(AXT_I(v), 7);
    axt_assert_rc(ax_send(a, 3, NULL), 0);
    while (ax_actor_alive(a))
        axt_assert_rc(ax_sleep(0.001), 0);
#endif
    return NULL;
}

START_TEST(test_json_checker)
{
    json_selftest();
}
END_TEST

/* ax_opts.trace: a valid JSON file with one timeline per loop, task
 * slices (balanced begin/end per loop), spawns, hops, sends and asks. */
START_TEST(test_trace_file)
{
    char path[512];
    ax_opts o;
    char *text;

    tmp_path(path, sizeof path, "opts");
    memset(&o, 0, sizeof o);
    o.loops = 2;
    o.virtual_clock = true;
    o.trace = path;
    unsetenv("AX_TRACE");
    axt_assert_rc(ax_test_run_with(&o, traced_main, NULL, NULL), 0);
    AXT_ASSERT_CLEAN();
    text = slurp(path);
    unlink(path);
    ck_assert_msg(json_valid(text), "trace is not valid JSON:\n%.2000s", text);
    ck_assert(strncmp(text, "{\"displayTimeUnit\"", 18) == 0);
    ck_assert_uint_eq(count(text, "\"name\":\"loop 0\""), 1);
    ck_assert_uint_eq(count(text, "\"name\":\"loop 1\""), 1);
    /* main + 3 workers (+ the actor) spawned */
    ck_assert_uint_ge(count(text, "\"name\":\"spawn\""), 4);
    ck_assert_uint_ge(count(text, "\"task\":\"worker \\\"q\\\"\""), 3);
    ck_assert_uint_ge(count(text, "\"name\":\"main\""), 1);
    ck_assert_uint_eq(count(text, "\"ph\":\"B\""), count(text, "\"ph\":\"E\""));
    ck_assert_uint_ge(count(text, "\"ph\":\"B\",\"ts\""), 1);
    ck_assert_uint_ge(count(text, "\"then\":\"end\""), 4);
    ck_assert_uint_ge(count(text, "\"then\":\"sleeping\""), 1);
    ck_assert_uint_ge(count(text, "\"name\":\"hop\""), 2);
    ck_assert_uint_ge(count(text, "\"name\":\"inbox\""), 2);
    /* both loops ran task slices */
    ck_assert_uint_ge(count(text, "\"tid\":0,\"args\":{\"id\""), 1);
    ck_assert_uint_ge(count(text, "\"tid\":1,\"args\":{\"id\""), 1);
#if AXON_HAVE_ACTORS
    ck_assert_uint_ge(count(text, "\"name\":\"send\""), 2);
    ck_assert_uint_ge(count(text, "\"name\":\"ask\""), 1);
#endif
    free(text);
}
END_TEST

static void *tiny(void *arg)
{
    (void)arg;
    return NULL;
}

/* AX_TRACE=file names the file when ax_opts.trace is NULL. */
START_TEST(test_trace_env)
{
    char path[512];
    char *text;

    tmp_path(path, sizeof path, "env");
    setenv("AX_TRACE", path, 1);
    AXT_RUN_CLEAN(tiny, NULL, NULL);
    unsetenv("AX_TRACE");
    text = slurp(path);
    unlink(path);
    ck_assert(json_valid(text));
    ck_assert_uint_eq(count(text, "\"name\":\"spawn\""), 1);
    ck_assert_uint_eq(count(text, "\"ph\":\"B\""), 1);
    ck_assert_uint_eq(count(text, "\"then\":\"end\""), 1);
    free(text);
}
END_TEST

/* A trace file that cannot be made: ax_run_with() refuses to start. */
START_TEST(test_trace_bad_path)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.trace = "/nonexistent-axon-dir/trace.json";
    axt_assert_rc(ax_test_run_with(&o, tiny, NULL, NULL), -ENOENT);
}
END_TEST

/* ---- ax_opts.log ---------------------------------------------------------- */

static char log_text[4096];
static int log_lines;

static void collect(void *arg, const char *line)
{
    ck_assert_ptr_eq(arg, log_text);
    ck_assert_msg(strchr(line, '\n') == NULL, "a line with a newline");
    log_lines++;
    strncat(log_text, line, sizeof log_text - strlen(log_text) - 2);
    strcat(log_text, "|");
}

static void *leaves_a_task(void *arg)
{
    ax_task *t;
    ax_task_opts to;
    (void)arg;
    memset(&to, 0, sizeof to);
    to.name = "forgotten";
    axt_assert_rc(ax_spawn_with(&t, tiny, NULL, &to), 0);
    return NULL; /* never awaited: the teardown reports it */
}

START_TEST(test_log_callback)
{
    ax_opts o;
    memset(&o, 0, sizeof o);
    o.virtual_clock = true;
    o.log = collect;
    o.log_arg = log_text;
    log_text[0] = '\0';
    log_lines = 0;
    ax_run_with(&o, leaves_a_task, NULL, NULL);
    ck_assert_int_ge(log_lines, 1);
    ck_assert_msg(strstr(log_text, "forgotten") != NULL, "log: %s", log_text);
    ck_assert_msg(strncmp(log_text, "axon: ", 6) == 0, "log: %s", log_text);
}
END_TEST

/* ---- ax_stats_prometheus -------------------------------------------------- */

static void *prom(void *arg)
{
    char buf[4096], small[16];
    size_t len = 0, len2 = 0;
    (void)arg;

    axt_assert_rc(ax_stats_prometheus(buf, sizeof buf, &len), 0);
    ck_assert_uint_eq(strlen(buf), len);
    ck_assert_msg(strstr(buf, "\naxon_tasks_spawned_total{loop=\"0\"} 1\n"),
                  "%s", buf);
    ck_assert(strstr(buf, "# TYPE axon_tasks_live gauge\n"));
    ck_assert(strstr(buf, "\naxon_loops 1\n"));
    /* every line: a comment, or "name[{labels}] value" */
    for (char *l = buf; *l; l = strchr(l, '\n') + 1) {
        if (*l == '#')
            continue;
        ck_assert_msg(strncmp(l, "axon_", 5) == 0, "line: %.60s", l);
        char *sp = strchr(l, ' ');
        ck_assert(sp && sp < strchr(l, '\n'));
        ck_assert(sp[1] >= '0' && sp[1] <= '9');
    }
    ck_assert(buf[len - 1] == '\n');
    /* too small: cut, terminated, and the size needed */
    axt_assert_rc(ax_stats_prometheus(small, sizeof small, &len2), AX_E2BIG);
    ck_assert_uint_eq(len2, len);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
    axt_assert_rc(ax_stats_prometheus(NULL, 0, &len2), AX_E2BIG);
    ck_assert_uint_eq(len2, len);
    axt_assert_rc(ax_stats_prometheus(NULL, 8, &len2), AX_EINVAL);
    return NULL;
}

START_TEST(test_prometheus)
{
    char buf[64];
    AXT_RUN_CLEAN(prom, NULL, NULL);
    axt_assert_rc(ax_stats_prometheus(buf, sizeof buf, NULL), AX_EPERM);
}
END_TEST

Suite *ax_trace_suite(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = axt_tcase(s, "trace");

    tcase_add_test(tc, test_json_checker);
    tcase_add_test(tc, test_trace_file);
    tcase_add_test(tc, test_trace_env);
    tcase_add_test(tc, test_trace_bad_path);
    tcase_add_test(tc, test_log_callback);
    tcase_add_test(tc, test_prometheus);
    return s;
}

int main(void) { return ax_test_main(ax_trace_suite()); }
