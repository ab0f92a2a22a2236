/* SPDX-License-Identifier: MIT */
/*
 * cli.h: the command line the example servers (and axload) share.
 *
 * Every program takes --host H, --port N and --loops N, and -h/--help;
 * each declares only its own options, as a table of srv_opt rows, and
 * srv_parse() does the rest the same way for all of them:
 *
 *   - an option is "--name VALUE" or "--name=VALUE";
 *   - numbers are checked whole and against their range (a port is an
 *     integer in [0, 65535], or [1, 65535] for a client; loops in
 *     [1, AX_LOOPS_MAX]);
 *   - -h or --help prints the usage on stdout: exit 0;
 *   - anything wrong prints "PROG: what is wrong" and the usage on stderr:
 *     exit 2. A program's own later checks use srv_usage_error() so that
 *     they read the same.
 *
 * The usage is made from the same table, so it cannot drift from what is
 * parsed. Not thread-safe; call it from main() before ax_run().
 */
#ifndef AX_EXAMPLES_CLI_H
#define AX_EXAMPLES_CLI_H

#include <stdbool.h>
#include <stdio.h>

/** What an option's value is, and the type its srv_opt.dst points to. */
typedef enum srv_kind {
    SRV_STRING,  /**< const char *: the argv string itself */
    SRV_INT,     /**< int, an integer in [min, max] */
    SRV_LLONG,   /**< long long, an integer in [min, max] */
    SRV_SIZE,    /**< size_t, an integer in [min, max] */
    SRV_BYTES,   /**< size_t, an integer with an optional K/M/G suffix
                      (powers of 1024), in [min, max] */
    SRV_SECONDS, /**< double, a number of seconds in [min, max] */
    SRV_CHOICE,  /**< int: the value of the choice named */
    SRV_FLAG,    /**< bool, set by "--name" alone (no value, meta unused) */
} srv_kind;

/** One allowed word of a SRV_CHOICE option. */
typedef struct srv_choice {
    const char *name;
    int value;
} srv_choice;

/** One option of a program; a table of them ends with a row whose name is
 *  NULL. */
typedef struct srv_opt {
    const char *name; /**< without the dashes: "max-bulk" */
    const char *meta; /**< the value's name in the usage: "BYTES" */
    srv_kind kind;
    void *dst;           /**< where the value goes (see srv_kind) */
    double min, max;     /**< numbers: the range, both ends included */
    const srv_choice *choices; /**< SRV_CHOICE: ends with {NULL, 0} */
    const char *help;    /**< usage text; a '\n' continues it indented */
    bool *given;         /**< if not NULL, set when the option is given */
} srv_opt;

/** A program's command line: fill in the defaults, call srv_parse(). */
typedef struct srv_cli {
    const char *prog;    /**< the program's name, for messages and usage */
    const char *about;   /**< one line under the usage line, or NULL */
    const char *host;    /**< in: default; out: --host */
    int port;            /**< in: default; out: --port */
    int loops;           /**< in: default (AX_LOOPS_PER_CPU or N); out */
    bool port_required;  /**< no default port: --port must be given */
    bool client;         /**< connects instead of listening: "server
                              address", no port 0, no "listening on" note */
    const srv_opt *opts; /**< the program's own options, or NULL */
    struct {
        const char *host;
        int port, loops;
    } shown_; /**< private: the defaults, as the usage shows them */
} srv_cli;

/**
 * Parse argv into @p cli and the option table's destinations.
 * @return -1 to go on; 0 after printing the usage for --help; 2 after
 *         printing a usage error. main() returns anything but -1.
 */
int srv_parse(srv_cli *cli, int argc, char **argv);

/** Print the usage to @p f. */
void srv_usage(const srv_cli *cli, FILE *f);

/**
 * Report a usage error found after srv_parse() (two options that exclude
 * each other, a malformed value): "PROG: " + the printf-style message and
 * the usage, on stderr.
 * @return 2, the exit code for usage errors.
 */
int srv_usage_error(const srv_cli *cli, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
