/* A program built against an installed copy of the library
 * (ffi/install.sh), with the flags pkg-config gives: the version macros
 * agree with the library it runs with, and a check answers. */
#include <haplan.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", HAPLAN_VERSION_MAJOR, HAPLAN_VERSION_MINOR,
             HAPLAN_VERSION_PATCH);
    if (strcmp(haplan_version(), expected) != 0) {
        fprintf(stderr, "header says %s, library %s\n", expected, haplan_version());
        return 1;
    }
    static const char pool_json[] =
        "{\"name\": \"p\", \"hosts\": [{\"name\": \"h1\", \"capacity\": {\"m\": 4}},"
        " {\"name\": \"h2\", \"capacity\": {\"m\": 4}}],"
        " \"vms\": [{\"name\": \"a\", \"host\": \"h1\", \"demand\": {\"m\": 2}}]}";
    haplan_pool *pool = NULL;
    char *report = NULL, *err = NULL;
    int ok = haplan_pool_new((const uint8_t *)pool_json, strlen(pool_json), &pool, &err) == HAPLAN_OK &&
             haplan_check(pool, NULL, 0, &report, &err) == HAPLAN_OK &&
             strstr(report, "\"max_tolerable\":1,") != NULL;
    if (!ok) fprintf(stderr, "check failed: %s %s\n", report ? report : "", err ? err : "");
    /* A duplicate key is a rejected pool, not the last one winning. */
    static const char dup[] = "{\"name\": \"p\", \"hosts\": [], \"vms\": [], \"vms\": []}";
    haplan_pool *dup_pool = NULL;
    char *dup_err = NULL;
    if (haplan_pool_new((const uint8_t *)dup, strlen(dup), &dup_pool, &dup_err) != HAPLAN_INVALID_POOL ||
        dup_pool != NULL || strstr(dup_err, "duplicate key") == NULL) {
        fprintf(stderr, "a duplicate key was accepted: %s\n", dup_err ? dup_err : "");
        ok = 0;
    }
    haplan_string_free(dup_err);
    haplan_string_free(report);
    haplan_string_free(err);
    haplan_pool_free(pool);
    printf("installed: haplan %s %s\n", haplan_version(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
