/* SPDX-License-Identifier: MIT */
/*
 * tests/ctx_selftest.c -- standalone check of a context-switch back-end
 * (framework/ctx/ctx.h), without libevent or the rest of axon.
 *
 * Built against exactly one back-end, e.g.
 *
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -Iframework -DAX_CTX_ASM=1 \
 *       tests/ctx_selftest.c framework/ctx/ctx_x86_64.S -o ctx_selftest -lm
 *   aarch64-linux-gnu-gcc -static -std=c11 -D_GNU_SOURCE -O2 -Iframework \
 *       -DAX_CTX_ASM=1 tests/ctx_selftest.c framework/ctx/ctx_aarch64.S \
 *       -o ctx_selftest -lm && qemu-aarch64 ./ctx_selftest
 *   gcc ... -DAX_CTX_UCONTEXT=1 -I<dir with an empty config.h> \
 *       tests/ctx_selftest.c framework/ctx/ctx_ucontext.c ...
 *
 * What it checks:
 *   1. ping-pong between main and two coroutines, in both orders, values
 *      passed through globals, ordering checked on every hop;
 *   2. callee-saved registers survive a switch: many live locals (integers
 *      and doubles) across switches, and on x86-64 / AArch64 an assembly
 *      helper that loads every callee-saved GPR (and d8-d15) with known
 *      values, switches, and compares them afterwards;
 *   3. the FP control word (rounding mode) is per context;
 *   4. stack alignment and placement in a coroutine (aligned locals, frame
 *      address, sp at a call, vararg printf of doubles, deep recursion on
 *      the given stack, nothing written above the stack's top);
 *   5. a coroutine's entry receives its arg on the first switch;
 *   6. an entry that returns kills the process (checked in a child).
 *
 * Prints "ctx_selftest: N passed, M failed"; exit status 0 only if M == 0.
 */
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctx/ctx.h"

#if defined(AX_CTX_UCONTEXT) && AX_CTX_UCONTEXT
#define BACKEND "ucontext"
#elif defined(__x86_64__)
#define BACKEND "asm-x86_64"
#elif defined(__aarch64__)
#define BACKEND "asm-aarch64"
#else
#define BACKEND "asm-unknown"
#endif

#define NOINLINE __attribute__((noinline))

static unsigned n_passed, n_failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            n_passed++;                                                    \
        } else {                                                           \
            n_failed++;                                                    \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
            fflush(stdout);                                                \
        }                                                                  \
    } while (0)

/* Hide a value from the optimiser so alignment checks are not folded. */
static uintptr_t opaque(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    __asm__ volatile("" : "+r"(v));
    return v;
}

/* ------------------------------------------------------------------ */
/* Stacks: each followed by a guard zone that must never be written.   */

#define NCO 4
#define STACK_SIZE (256 * 1024)
#define GUARD 256
#define GUARD_BYTE 0xA5

static _Alignas(64) unsigned char stacks[NCO][STACK_SIZE + GUARD];
static ax__ctx main_ctx, co_ctx[NCO];

/* Deliberately hand make() a misaligned lo and size (odd offsets), so the
 * back-end must do its own rounding. The usable range is [lo, lo + size). */
static void *stack_lo(int i) { return stacks[i] + 8; }
static size_t stack_size(void) { return STACK_SIZE - 8 - 5; }

static void guard_fill(int i)
{
    memset(stacks[i] + STACK_SIZE - 5, GUARD_BYTE, GUARD + 5);
}

static int guard_ok(int i)
{
    for (size_t k = 0; k < GUARD + 5; k++)
        if (stacks[i][STACK_SIZE - 5 + k] != GUARD_BYTE)
            return 0;
    return 1;
}

static void make_co(int i, void (*entry)(void *), void *arg)
{
    guard_fill(i);
    ax__ctx_make(&co_ctx[i], stack_lo(i), stack_size(), entry, arg);
}

static int on_stack(int i, uintptr_t p)
{
    uintptr_t lo = (uintptr_t)stack_lo(i);
    return p >= lo && p < lo + stack_size();
}

/* ------------------------------------------------------------------ */
/* Assembly helpers.                                                   */
/*
 * unsigned long selftest_reg_switch(ax__ctx *from, ax__ctx *to, uint64_t seed)
 *   Saves its caller's callee-saved registers, loads every callee-saved
 *   GPR (x86-64: rbx rbp r12-r15; AArch64: x19-x28, and d8-d15 as 64-bit
 *   patterns) with seed+1, seed+2, ..., calls ax__ctx_switch(from, to),
 *   and when resumed returns how many of them (plus the sp / frame pointer
 *   consistency) do not hold the expected value any more.
 *
 * unsigned long selftest_sp_misalign(void)
 *   Returns how far sp was from the ABI alignment at the call to it:
 *   0 if the caller's stack was aligned as the ABI demands.
 */
#if defined(__x86_64__)
#define HAVE_ASM_HELPERS 1
#define NREGS_CHECKED 7
__asm__(
    "    .text\n"
    "    .globl selftest_reg_switch\n"
    "    .type selftest_reg_switch, @function\n"
    "    .p2align 4\n"
    "selftest_reg_switch:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    subq $24, %rsp\n"
    "    movq %rdx, (%rsp)\n"
    "    movq %rsp, 8(%rsp)\n"
    "    leaq 1(%rdx), %rbx\n"
    "    leaq 2(%rdx), %rbp\n"
    "    leaq 3(%rdx), %r12\n"
    "    leaq 4(%rdx), %r13\n"
    "    leaq 5(%rdx), %r14\n"
    "    leaq 6(%rdx), %r15\n"
    "    call ax__ctx_switch@PLT\n"
    "    movq (%rsp), %rdx\n"
    "    xorl %eax, %eax\n"
#define X86_CHK(off, reg)                                                  \
    "    leaq " #off "(%rdx), %rcx\n"                                      \
    "    cmpq %rcx, " reg "\n"                                             \
    "    setne %cl\n"                                                      \
    "    movzbl %cl, %ecx\n"                                               \
    "    addl %ecx, %eax\n"
    X86_CHK(1, "%rbx")
    X86_CHK(2, "%rbp")
    X86_CHK(3, "%r12")
    X86_CHK(4, "%r13")
    X86_CHK(5, "%r14")
    X86_CHK(6, "%r15")
    "    cmpq %rsp, 8(%rsp)\n"
    "    setne %cl\n"
    "    movzbl %cl, %ecx\n"
    "    addl %ecx, %eax\n"
    "    addq $24, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    ret\n"
    "    .size selftest_reg_switch, .-selftest_reg_switch\n"
    "\n"
    "    .globl selftest_sp_misalign\n"
    "    .type selftest_sp_misalign, @function\n"
    "    .p2align 4\n"
    "selftest_sp_misalign:\n"      /* at entry rsp + 8 must be 16-aligned */
    "    leaq 8(%rsp), %rax\n"
    "    andl $15, %eax\n"
    "    ret\n"
    "    .size selftest_sp_misalign, .-selftest_sp_misalign\n");
#elif defined(__aarch64__)
#define HAVE_ASM_HELPERS 1
#define NREGS_CHECKED 19
__asm__(
    "    .text\n"
    "    .globl selftest_reg_switch\n"
    "    .type selftest_reg_switch, %function\n"
    "    .p2align 4\n"
    "selftest_reg_switch:\n"
    "    stp x29, x30, [sp, #-176]!\n"
    "    mov x29, sp\n"
    "    stp x19, x20, [sp, #16]\n"
    "    stp x21, x22, [sp, #32]\n"
    "    stp x23, x24, [sp, #48]\n"
    "    stp x25, x26, [sp, #64]\n"
    "    stp x27, x28, [sp, #80]\n"
    "    stp d8, d9, [sp, #96]\n"
    "    stp d10, d11, [sp, #112]\n"
    "    stp d12, d13, [sp, #128]\n"
    "    stp d14, d15, [sp, #144]\n"
    "    str x2, [sp, #160]\n"
    "    add x19, x2, #1\n"
    "    add x20, x2, #2\n"
    "    add x21, x2, #3\n"
    "    add x22, x2, #4\n"
    "    add x23, x2, #5\n"
    "    add x24, x2, #6\n"
    "    add x25, x2, #7\n"
    "    add x26, x2, #8\n"
    "    add x27, x2, #9\n"
    "    add x28, x2, #10\n"
    "    add x9, x2, #11\n    fmov d8, x9\n"
    "    add x9, x2, #12\n    fmov d9, x9\n"
    "    add x9, x2, #13\n    fmov d10, x9\n"
    "    add x9, x2, #14\n    fmov d11, x9\n"
    "    add x9, x2, #15\n    fmov d12, x9\n"
    "    add x9, x2, #16\n    fmov d13, x9\n"
    "    add x9, x2, #17\n    fmov d14, x9\n"
    "    add x9, x2, #18\n    fmov d15, x9\n"
    "    bl ax__ctx_switch\n"
    "    ldr x2, [sp, #160]\n"
    "    mov x0, #0\n"
#define A64_CHK(off, reg)                                                  \
    "    add x9, x2, #" #off "\n"                                          \
    "    cmp " reg ", x9\n"                                                \
    "    cinc x0, x0, ne\n"
#define A64_DCHK(off, reg)                                                 \
    "    fmov x10, " reg "\n"                                              \
    "    add x9, x2, #" #off "\n"                                          \
    "    cmp x10, x9\n"                                                    \
    "    cinc x0, x0, ne\n"
    A64_CHK(1, "x19") A64_CHK(2, "x20") A64_CHK(3, "x21") A64_CHK(4, "x22")
    A64_CHK(5, "x23") A64_CHK(6, "x24") A64_CHK(7, "x25") A64_CHK(8, "x26")
    A64_CHK(9, "x27") A64_CHK(10, "x28")
    A64_DCHK(11, "d8") A64_DCHK(12, "d9") A64_DCHK(13, "d10")
    A64_DCHK(14, "d11") A64_DCHK(15, "d12") A64_DCHK(16, "d13")
    A64_DCHK(17, "d14") A64_DCHK(18, "d15")
    "    mov x9, sp\n"
    "    cmp x29, x9\n"
    "    cinc x0, x0, ne\n"
    "    ldp x19, x20, [sp, #16]\n"
    "    ldp x21, x22, [sp, #32]\n"
    "    ldp x23, x24, [sp, #48]\n"
    "    ldp x25, x26, [sp, #64]\n"
    "    ldp x27, x28, [sp, #80]\n"
    "    ldp d8, d9, [sp, #96]\n"
    "    ldp d10, d11, [sp, #112]\n"
    "    ldp d12, d13, [sp, #128]\n"
    "    ldp d14, d15, [sp, #144]\n"
    "    ldp x29, x30, [sp], #176\n"
    "    ret\n"
    "    .size selftest_reg_switch, .-selftest_reg_switch\n"
    "\n"
    "    .globl selftest_sp_misalign\n"
    "    .type selftest_sp_misalign, %function\n"
    "    .p2align 4\n"
    "selftest_sp_misalign:\n"      /* sp must be 16-aligned at all times */
    "    mov x0, sp\n"
    "    and x0, x0, #15\n"
    "    ret\n"
    "    .size selftest_sp_misalign, .-selftest_sp_misalign\n");
#else
#define HAVE_ASM_HELPERS 0
#endif

#if HAVE_ASM_HELPERS
unsigned long selftest_reg_switch(ax__ctx *from, ax__ctx *to, uint64_t seed);
unsigned long selftest_sp_misalign(void);
#endif

/* ------------------------------------------------------------------ */
/* 1. Ping-pong between main and two coroutines.                       */

#define PP_ROUNDS 100000

static volatile unsigned long pp_token;    /* value passed around */
static volatile unsigned long pp_seq;      /* hop counter */
static ax__ctx *volatile pp_next[2];       /* where A / B go next */
static unsigned long pp_bad[2], pp_runs[2];

static void pp_entry(void *arg)
{
    int me = (int)(intptr_t)arg;  /* 0 = A, 1 = B */
    for (;;) {
        unsigned long seq = pp_seq;
        /* Round r: even r goes main -> A -> B -> main, odd main -> B -> A
         * -> main. The token is 3 * r + (hops so far this round). */
        unsigned long r = seq / 3, hop = seq % 3;
        int first = (r % 2 == 0) ? 0 : 1;
        int expect_hop = (me == first) ? 0 : 1;
        if (hop != (unsigned long)expect_hop || pp_token != 3 * r + hop)
            pp_bad[me]++;
        pp_token = pp_token + 1;
        pp_seq = seq + 1;
        pp_runs[me]++;
        ax__ctx_switch(&co_ctx[me], pp_next[me]);
    }
}

static void test_pingpong(void)
{
    unsigned long bad = 0;

    pp_seq = 0;
    make_co(0, pp_entry, (void *)(intptr_t)0);
    make_co(1, pp_entry, (void *)(intptr_t)1);
    for (unsigned long r = 0; r < PP_ROUNDS; r++) {
        int first = (r % 2 == 0) ? 0 : 1;
        pp_token = 3 * r;
        if (pp_seq != 3 * r)
            bad++;
        pp_next[first] = &co_ctx[1 - first];
        pp_next[1 - first] = &main_ctx;
        ax__ctx_switch(&main_ctx, &co_ctx[first]);
        if (pp_token != 3 * r + 2 || pp_seq != 3 * r + 2)
            bad++;
        pp_seq = pp_seq + 1;  /* main's own hop */
    }
    CHECK(bad == 0, "main saw %lu out-of-order rounds", bad);
    CHECK(pp_bad[0] == 0 && pp_bad[1] == 0,
          "coroutines saw %lu / %lu bad hops", pp_bad[0], pp_bad[1]);
    CHECK(pp_runs[0] == PP_ROUNDS && pp_runs[1] == PP_ROUNDS,
          "runs %lu / %lu, want %d each", pp_runs[0], pp_runs[1], PP_ROUNDS);
    CHECK(guard_ok(0) && guard_ok(1), "guard above a stack top was written");
}

/* ------------------------------------------------------------------ */
/* 2a. Many live locals across switches.                               */

static volatile uint64_t v_iseed = 0x9e3779b97f4a7c15ull;
static volatile double v_dseed = 1.0009765625;
static ax__ctx *volatile ll_peer[NCO + 1];
static unsigned long ll_bad[NCO + 1];

#define MIX(x, k) (((x) ^ ((x) >> 29)) * (0xbf58476d1ce4e5b9ull + (k)))

/* Compute a lot of values, switch away, come back, recompute and compare.
 * Returns the number of mismatches. */
static NOINLINE unsigned live_locals(ax__ctx *self, ax__ctx *peer, unsigned k)
{
    uint64_t s = v_iseed + k;
    uint64_t a0 = MIX(s, 0), a1 = MIX(a0, 1), a2 = MIX(a1, 2),
             a3 = MIX(a2, 3), a4 = MIX(a3, 4), a5 = MIX(a4, 5),
             a6 = MIX(a5, 6), a7 = MIX(a6, 7), a8 = MIX(a7, 8),
             a9 = MIX(a8, 9), a10 = MIX(a9, 10), a11 = MIX(a10, 11);
    double d = v_dseed + k;
    double d0 = d * 1.5, d1 = d0 + 0.25, d2 = d1 * d1, d3 = d2 - d0,
           d4 = d3 / 7.0, d5 = d4 * d, d6 = d5 + d2, d7 = d6 * 0.125,
           d8 = d7 - d1, d9 = d8 * 3.0, d10 = d9 + d4, d11 = d10 / d;

    ax__ctx_switch(self, peer);

    uint64_t t = v_iseed + k;
    uint64_t b0 = MIX(t, 0), b1 = MIX(b0, 1), b2 = MIX(b1, 2),
             b3 = MIX(b2, 3), b4 = MIX(b3, 4), b5 = MIX(b4, 5),
             b6 = MIX(b5, 6), b7 = MIX(b6, 7), b8 = MIX(b7, 8),
             b9 = MIX(b8, 9), b10 = MIX(b9, 10), b11 = MIX(b10, 11);
    double e = v_dseed + k;
    double e0 = e * 1.5, e1 = e0 + 0.25, e2 = e1 * e1, e3 = e2 - e0,
           e4 = e3 / 7.0, e5 = e4 * e, e6 = e5 + e2, e7 = e6 * 0.125,
           e8 = e7 - e1, e9 = e8 * 3.0, e10 = e9 + e4, e11 = e10 / e;

    unsigned bad = 0;
    bad += a0 != b0; bad += a1 != b1; bad += a2 != b2; bad += a3 != b3;
    bad += a4 != b4; bad += a5 != b5; bad += a6 != b6; bad += a7 != b7;
    bad += a8 != b8; bad += a9 != b9; bad += a10 != b10; bad += a11 != b11;
    bad += s != t; bad += d != e;
    bad += d0 != e0; bad += d1 != e1; bad += d2 != e2; bad += d3 != e3;
    bad += d4 != e4; bad += d5 != e5; bad += d6 != e6; bad += d7 != e7;
    bad += d8 != e8; bad += d9 != e9; bad += d10 != e10; bad += d11 != e11;
    return bad;
}

#define LL_ROUNDS 20000

static void ll_entry(void *arg)
{
    int me = (int)(intptr_t)arg;
    /* Each coroutine uses its own k offset so registers differ. */
    for (unsigned k = 0;; k++)
        ll_bad[me] += live_locals(&co_ctx[me], ll_peer[me], 1000000u * (me + 1) + k);
}

static void test_live_locals(void)
{
    unsigned long bad = 0;

    memset(ll_bad, 0, sizeof ll_bad);
    /* main -> co0 -> co1 -> main */
    ll_peer[0] = &co_ctx[1];
    ll_peer[1] = &main_ctx;
    make_co(0, ll_entry, (void *)(intptr_t)0);
    make_co(1, ll_entry, (void *)(intptr_t)1);
    for (unsigned k = 0; k < LL_ROUNDS; k++)
        bad += live_locals(&main_ctx, &co_ctx[0], 7000000u + k);
    CHECK(bad == 0, "main: %lu live locals changed across a switch", bad);
    CHECK(ll_bad[0] == 0 && ll_bad[1] == 0,
          "coroutines: %lu / %lu live locals changed across a switch",
          ll_bad[0], ll_bad[1]);
}

/* 2b. Every callee-saved register, loaded by hand, across a switch.     */

#if HAVE_ASM_HELPERS
#define RS_ROUNDS 2000
static unsigned long rs_bad, rs_runs;

static void rs_entry(void *arg)
{
    (void)arg;
    for (uint64_t i = 0;; i++) {
        rs_bad += selftest_reg_switch(&co_ctx[2], &main_ctx,
                                      0x5a5a000000000000ull + (i << 8));
        rs_runs++;
    }
}

static void test_reg_switch(void)
{
    unsigned long bad = 0;

    rs_bad = rs_runs = 0;
    make_co(2, rs_entry, NULL);
    for (uint64_t i = 0; i < RS_ROUNDS; i++)
        bad += selftest_reg_switch(&main_ctx, &co_ctx[2],
                                   0xc3c3000000000000ull + (i << 8));
    CHECK(bad == 0, "main: %lu callee-saved registers (of %d per switch) lost",
          bad, NREGS_CHECKED);
    CHECK(rs_bad == 0, "coroutine: %lu callee-saved registers lost", rs_bad);
    CHECK(rs_runs == RS_ROUNDS - 1, "coroutine resumed %lu times, want %d",
          rs_runs, RS_ROUNDS - 1);
}
#endif

/* ------------------------------------------------------------------ */
/* 3. FP control word (rounding mode) per context.                     */

static volatile double v_one = 1.0, v_three = 3.0;

/* The rounding mode as the hardware applies it: 1/3 and -1/3. */
static int hw_rounding(void)
{
    double p = v_one / v_three, n = -v_one / v_three;
    uint64_t pb, nb;
    memcpy(&pb, &p, sizeof pb);
    memcpy(&nb, &n, sizeof nb);
    if (pb == 0x3fd5555555555555ull && nb == 0xbfd5555555555555ull)
        return FE_TONEAREST; /* (or toward zero: indistinguishable here) */
    if (pb == 0x3fd5555555555556ull && nb == 0xbfd5555555555555ull)
        return FE_UPWARD;
    if (pb == 0x3fd5555555555555ull && nb == 0xbfd5555555555556ull)
        return FE_DOWNWARD;
    return -1;
}

/* The raw control registers' rounding field, decoded to FE_*. */
static int raw_rounding(void)
{
#if defined(__x86_64__)
    unsigned mxcsr;
    unsigned short cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    unsigned sse = (mxcsr >> 13) & 3, x87 = (cw >> 10) & 3;
    if (sse != x87)
        return -2; /* the two units disagree: one was not switched */
    static const int map[4] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
    return map[sse];
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    static const int map[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    return map[(fpcr >> 22) & 3];
#else
    return fegetround();
#endif
}

static int fe_ok(int want)
{
    return fegetround() == want && raw_rounding() == want && hw_rounding() == want;
}

static int fe_seen[8];

/* co0: goes UPWARD, co1: checks TONEAREST, goes DOWNWARD. */
static void fe_entry0(void *arg)
{
    (void)arg;
    fe_seen[0] = fe_ok(FE_TONEAREST);        /* inherited at start */
    fesetround(FE_UPWARD);
    fe_seen[1] = fe_ok(FE_UPWARD);
    ax__ctx_switch(&co_ctx[0], &co_ctx[1]);
    fe_seen[4] = fe_ok(FE_UPWARD);           /* still ours after others ran */
    ax__ctx_switch(&co_ctx[0], &co_ctx[1]);
    fe_seen[6] = fe_ok(FE_UPWARD);
    ax__ctx_switch(&co_ctx[0], &main_ctx);
    abort();
}

static void fe_entry1(void *arg)
{
    (void)arg;
    fe_seen[2] = fe_ok(FE_TONEAREST);        /* co0's UPWARD did not leak */
    fesetround(FE_DOWNWARD);
    fe_seen[3] = fe_ok(FE_DOWNWARD);
    ax__ctx_switch(&co_ctx[1], &main_ctx);
    fe_seen[5] = fe_ok(FE_DOWNWARD);
    ax__ctx_switch(&co_ctx[1], &co_ctx[0]);
    abort();
}

static void test_fenv(void)
{
    CHECK(fe_ok(FE_TONEAREST), "main does not start in FE_TONEAREST");
    make_co(0, fe_entry0, NULL);
    make_co(1, fe_entry1, NULL);
    ax__ctx_switch(&main_ctx, &co_ctx[0]);   /* co0 -> co1 -> main */
    CHECK(fe_ok(FE_TONEAREST), "main after coroutines changed theirs: %d/%d/%d",
          fegetround(), raw_rounding(), hw_rounding());
    ax__ctx_switch(&main_ctx, &co_ctx[0]);   /* co0 -> co1 -> co0 -> main */
    CHECK(fe_ok(FE_TONEAREST), "main at the end: %d/%d/%d",
          fegetround(), raw_rounding(), hw_rounding());
    CHECK(fe_seen[0], "co0 did not start in FE_TONEAREST");
    CHECK(fe_seen[1], "co0 could not set FE_UPWARD");
    CHECK(fe_seen[2], "co1 saw co0's rounding mode");
    CHECK(fe_seen[3], "co1 could not set FE_DOWNWARD");
    CHECK(fe_seen[4], "co0 lost FE_UPWARD across switches");
    CHECK(fe_seen[5], "co1 lost FE_DOWNWARD across switches");
    CHECK(fe_seen[6], "co0 lost FE_UPWARD the second time");
    fesetround(FE_TONEAREST);
}

/* ------------------------------------------------------------------ */
/* 4. Stack alignment and placement; 5. first switch passes arg.       */

struct al_result {
    int ran;
    void *arg;
    uintptr_t aligned_local, aligned32, frame, deep_frame;
    unsigned long sp_misalign, deep_misalign;
    char buf[256];
    int printed;
};
static struct al_result al;

static NOINLINE uintptr_t deep(int n, unsigned long *mis)
{
    volatile char pad[48];
    pad[0] = (char)n;
    if (n == 0) {
#if HAVE_ASM_HELPERS
        *mis = selftest_sp_misalign();
#else
        *mis = 0;
#endif
        return opaque(__builtin_frame_address(0));
    }
    uintptr_t r = deep(n - 1, mis);
    return r + (pad[0] != (char)n);
}

/* Called straight from the entry. No local here may be aligned beyond 16:
 * an over-aligned one makes GCC realign the stack in the prologue, which
 * would hide a misaligned coroutine stack (seen with _Alignas(32)). */
static NOINLINE void al_body16(void)
{
    _Alignas(16) char local16[16];
    double x[4] = {1.0, 2.0, 3.0, 4.0};

    local16[0] = 1;
    al.aligned_local = opaque(local16);
    al.frame = opaque(__builtin_frame_address(0));
#if HAVE_ASM_HELPERS
    al.sp_misalign = selftest_sp_misalign();
#endif
    if ((al.aligned_local & 15) || (al.frame & 15) || al.sp_misalign) {
        printf("ctx_selftest: coroutine stack misaligned (frame %#lx), the "
               "vararg call below may crash\n", (unsigned long)al.frame);
        fflush(stdout);
    }
    /* Vararg call with doubles: on x86-64 the callee spills xmm regs with
     * aligned stores, so a misaligned stack would crash here. */
    snprintf(al.buf, sizeof al.buf, "%.3f %.3f %.3f %.3f %g %e",
             x[0] * 0.5, x[1] * 0.25, x[2] + 0.125, x[3] / 8.0, 1e300,
             -2.5e-10);
    al.printed = printf("  (coroutine printf: %.2f %.2f %s)\n", 3.25, -1.5,
                        al.buf) > 0;
}

/* Over-aligned local: the compiler's business, checked for completeness. */
static NOINLINE void al_body32(void)
{
    _Alignas(32) double local32[4] = {1.0, 2.0, 3.0, 4.0};
    al.aligned32 = opaque(local32);
}

static void al_entry(void *arg)
{
    al.ran = 1;
    al.arg = arg;
    al_body16();
    al_body32();
    al.deep_frame = deep(1000, &al.deep_misalign);
    ax__ctx_switch(&co_ctx[3], &main_ctx);
    abort();
}

static void test_alignment(void)
{
    static int token;

    memset(&al, 0, sizeof al);
    make_co(3, al_entry, &token);
    ax__ctx_switch(&main_ctx, &co_ctx[3]);
    CHECK(al.ran, "coroutine did not run");
    CHECK(al.arg == &token, "arg %p, want %p", al.arg, (void *)&token);
    CHECK((al.aligned_local & 15) == 0, "_Alignas(16) local at %#lx",
          (unsigned long)al.aligned_local);
    CHECK((al.frame & 15) == 0, "frame address %#lx not 16-aligned",
          (unsigned long)al.frame);
    CHECK(on_stack(3, al.frame), "frame %#lx not on the coroutine's stack",
          (unsigned long)al.frame);
    CHECK(al.sp_misalign == 0, "sp misaligned by %lu at a call",
          al.sp_misalign);
    CHECK((al.aligned32 & 31) == 0, "_Alignas(32) local at %#lx",
          (unsigned long)al.aligned32);
    CHECK(strcmp(al.buf, "0.500 0.500 3.125 0.500 1e+300 -2.500000e-10") == 0,
          "vararg doubles printed as '%s'", al.buf);
    CHECK(al.printed, "printf in the coroutine failed");
    CHECK(on_stack(3, al.deep_frame) && al.deep_frame + 1000 * 16 < al.frame,
          "deep recursion frame %#lx not below %#lx on the stack",
          (unsigned long)al.deep_frame, (unsigned long)al.frame);
    CHECK(al.deep_misalign == 0, "sp misaligned by %lu deep down",
          al.deep_misalign);
    CHECK(guard_ok(3), "guard above the stack top was written");
}

/* 5. Args on the first switch, for several coroutines, from main and from
 *    another coroutine, including NULL and non-pointer values. */

static void *arg_seen[NCO];
static int arg_ran[NCO];

static void arg_entry(void *arg)
{
    int me = -1;
    for (int i = 0; i < NCO; i++)
        if (!arg_ran[i]) { me = i; break; }
    if (me < 0)
        abort();
    arg_ran[me] = 1;
    arg_seen[me] = arg;
    /* co0 starts co1 itself; the others go back to main. */
    ax__ctx_switch(&co_ctx[me], me == 0 ? &co_ctx[1] : &main_ctx);
    abort();
}

static void test_args(void)
{
    static double payload = 42.0;
    void *want[NCO] = {&payload, (void *)(uintptr_t)0xfedcba9876543210ull,
                       NULL, (void *)(uintptr_t)1};

    memset(arg_ran, 0, sizeof arg_ran);
    for (int i = 0; i < NCO; i++) {
        arg_seen[i] = (void *)(uintptr_t)0xdead;
        make_co(i, arg_entry, want[i]);
    }
    ax__ctx_switch(&main_ctx, &co_ctx[0]);  /* co0 -> co1 -> main */
    ax__ctx_switch(&main_ctx, &co_ctx[2]);
    ax__ctx_switch(&main_ctx, &co_ctx[3]);
    for (int i = 0; i < NCO; i++)
        CHECK(arg_ran[i] && arg_seen[i] == want[i], "co%d got %p, want %p", i,
              arg_seen[i], want[i]);
    CHECK(*(double *)arg_seen[0] == 42.0, "payload through arg");
}

/* 6. An entry that returns must not carry on silently. */

static void ret_entry(void *arg)
{
    (void)arg;
}

static void test_entry_return(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        FILE *devnull = freopen("/dev/null", "w", stderr);
        (void)devnull;
        make_co(0, ret_entry, NULL);
        ax__ctx_switch(&main_ctx, &co_ctx[0]);
        _exit(0); /* must not get here */
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid, "fork/waitpid");
    /* The trap each back-end puts after the call to entry. */
#if defined(AX_CTX_UCONTEXT) && AX_CTX_UCONTEXT
    const int want_sig = SIGABRT;   /* abort() in the trampoline */
#elif defined(__x86_64__)
    const int want_sig = SIGILL;    /* ud2 */
#elif defined(__aarch64__)
    const int want_sig = SIGTRAP;   /* brk #0 */
#else
    const int want_sig = 0;
#endif
    CHECK(WIFSIGNALED(status) && (want_sig == 0 || WTERMSIG(status) == want_sig),
          "returning entry: child status %#x, want killed by signal %d",
          status, want_sig);
}

/* ------------------------------------------------------------------ */

#define RUN(name, fn)                                                      \
    do {                                                                   \
        printf("ctx_selftest: %s\n", name);                                \
        fflush(stdout);                                                    \
        fn();                                                              \
    } while (0)

int main(void)
{
    printf("ctx_selftest: back-end %s\n", BACKEND);
#if HAVE_ASM_HELPERS
    /* First: it survives a switch that loses registers (the helper saves
     * its caller's), so such a bug shows as a FAIL, not a crash. */
    RUN("2b callee-saved registers by hand", test_reg_switch);
#endif
    RUN("1 ping-pong main <-> 2 coroutines", test_pingpong);
    RUN("2a live locals across switches", test_live_locals);
    RUN("3 rounding mode per context", test_fenv);
    RUN("4 stack alignment and placement", test_alignment);
    RUN("5 entry receives its arg", test_args);
    RUN("6 returning entry traps", test_entry_return);
    printf("ctx_selftest: %u passed, %u failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
