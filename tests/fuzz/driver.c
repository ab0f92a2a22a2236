/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/driver.c: runs a libFuzzer target without libFuzzer, on the
 * files named (or every file of the directories named): how `make check`
 * replays the corpus seeds and the inputs that once crashed, in every
 * build. Exit 0 when every input ran.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f) {
        perror(path);
        return 1;
    }
    for (;;) {
        if (n == cap) {
            unsigned char *q = realloc(buf, cap = cap ? cap * 2 : 4096);
            if (!q) {
                fclose(f);
                free(buf);
                return 1;
            }
            buf = q;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int main(int argc, char **argv)
{
    int bad = 0, runs = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]);
            runs++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[4096];
            if (e->d_name[0] == '.')
                continue;
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            bad |= run_file(path);
            runs++;
        }
        if (d)
            closedir(d);
    }
    printf("%s: %d inputs\n", argv[0], runs);
    return bad;
}
