/* What the C tests share: assertions that say where, reading a file, and
 * a tiny scanner for haplan's compact JSON (no C JSON library needed: the
 * outputs are serde_json's compact form, `{"key":value,...}`). */
#ifndef HAPLAN_TEST_CHECK_H
#define HAPLAN_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "haplan.h"

static int failures = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
        }                                                                             \
    } while (0)

/* Stops at once: what follows would use what is missing. */
#define REQUIRE(cond)                                                                   \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

#define CHECK_RC(got, want)                                                              \
    do {                                                                                 \
        haplan_result got_ = (got);                                                      \
        if (got_ != (want)) {                                                            \
            fprintf(stderr, "%s:%d: %s gave %s, expected %s\n", __FILE__, __LINE__, #got, \
                    haplan_result_name(got_), haplan_result_name(want));                 \
            failures++;                                                                  \
        }                                                                                \
    } while (0)

/* The bytes of a C string, as haplan takes JSON. */
#define BUF(s) (const uint8_t *)(s), strlen(s)

/* The whole file, NUL-terminated; *len its length. */
static inline char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    REQUIRE(buf);
    for (;;) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) break;
        cap *= 2;
        buf = realloc(buf, cap);
        REQUIRE(buf);
    }
    REQUIRE(!ferror(f));
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* The pool file ROOT/REL, loaded; stops the test when it does not load. */
static inline haplan_pool *load_pool(const char *root, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    size_t len;
    char *json = read_file(path, &len);
    haplan_pool *pool = NULL;
    char *err = NULL;
    haplan_result rc = haplan_pool_new((const uint8_t *)json, len, &pool, &err);
    if (rc != HAPLAN_OK) fprintf(stderr, "%s: %s\n", rel, err);
    REQUIRE(rc == HAPLAN_OK && pool && !err);
    free(json);
    return pool;
}

/* Whether `json` holds `needle` (e.g. "\"max_tolerable\":1,"). */
static inline int has(const char *json, const char *needle) { return json && strstr(json, needle) != NULL; }

/* The number after the first `"key":` in `obj`, or `missing`. */
static inline uint64_t num(const char *obj, const char *key, uint64_t missing) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(obj, pat);
    if (!p) return missing;
    p += strlen(pat);
    if (*p < '0' || *p > '9') return missing;
    return strtoull(p, NULL, 10);
}

/* The string after the first `"key":"` in `obj`, copied into `out` (empty
 * when missing); returns `out`. */
static inline char *str(const char *obj, const char *key, char *out, size_t n) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(obj, pat);
    out[0] = '\0';
    if (!p) return out;
    p += strlen(pat);
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < n) {
        out[i] = p[i];
        i++;
    }
    out[i] = '\0';
    return out;
}

#endif
