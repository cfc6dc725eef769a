/* The capacity-planning queries through the C ABI: headroom, drain, tiers
 * and timing on the bundled fixtures, their key fields checked against the
 * goldens the CLI's tests use (the .expected files of fixtures/), then their
 * errors: unknown hosts, bad options, bad shapes, NULL pointers. Everything
 * is freed (AddressSanitizer's leak check runs on this program too).
 *
 * Usage: capacity REPO_ROOT */
#include <ctype.h>

#include "check.h"

static const char *root;
static char *err = NULL;

/* An out-parameter haplan must leave alone on failure. */
#define UNTOUCHED ((void *)0x1)

static char *read_rel(const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    size_t len;
    return read_file(path, &len);
}

static haplan_pool *load(const char *rel) { return load_pool(root, rel); }

/* The stdout of a golden (`exit: N\n--- stdout\n...`): the CLI's pretty
 * JSON. Free it with free(). */
static char *golden(const char *rel) {
    char *text = read_rel(rel);
    const char *marker = "--- stdout\n";
    char *p = strstr(text, marker);
    REQUIRE(p);
    p += strlen(marker);
    memmove(text, p, strlen(p) + 1);
    return text;
}

/* After the first `"key":` in `obj`, whitespace skipped (the goldens are
 * pretty-printed, haplan's outputs compact); NULL when missing. */
static const char *value(const char *obj, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = obj ? strstr(obj, pat) : NULL;
    if (!p) return NULL;
    p += strlen(pat);
    while (isspace((unsigned char)*p)) p++;
    return p;
}

/* The number after `"key":`, or -1. */
static long long numv(const char *obj, const char *key) {
    const char *p = value(obj, key);
    if (!p || *p < '0' || *p > '9') return -1;
    return strtoll(p, NULL, 10);
}

/* The string or literal after `"key":`, copied into `out` (empty when
 * missing). */
static char *strv(const char *obj, const char *key, char *out, size_t n) {
    const char *p = value(obj, key);
    out[0] = '\0';
    if (!p) return out;
    size_t i = 0;
    if (*p == '"') {
        p++;
        while (p[i] && p[i] != '"' && i + 1 < n) {
            out[i] = p[i];
            i++;
        }
    } else {
        while (p[i] && p[i] != ',' && p[i] != '}' && p[i] != '\n' && i + 1 < n) {
            out[i] = p[i];
            i++;
        }
    }
    out[i] = '\0';
    return out;
}

/* The `n`th (0-based) occurrence of `needle` in `s`, or NULL. */
static const char *nth(const char *s, const char *needle, int n) {
    const char *p = s;
    for (int i = 0; p; i++) {
        p = strstr(p, needle);
        if (!p || i == n) return p;
        p += strlen(needle);
    }
    return NULL;
}

/* Whether `key` has the same number in `got` and `want` (and it is there). */
#define SAME_NUM(got, want, key)                                                                        \
    do {                                                                                                \
        long long g_ = numv(got, key), w_ = numv(want, key);                                            \
        if (w_ < 0 || g_ != w_) {                                                                       \
            fprintf(stderr, "%s:%d: %s is %lld, the golden's %lld\n", __FILE__, __LINE__, key, g_, w_); \
            failures++;                                                                                 \
        }                                                                                               \
    } while (0)

#define SAME_STR(got, want, key)                                                                            \
    do {                                                                                                    \
        char g_[256], w_[256];                                                                              \
        strv(got, key, g_, sizeof g_);                                                                      \
        strv(want, key, w_, sizeof w_);                                                                     \
        if (!w_[0] || strcmp(g_, w_) != 0) {                                                                \
            fprintf(stderr, "%s:%d: %s is \"%s\", the golden's \"%s\"\n", __FILE__, __LINE__, key, g_, w_); \
            failures++;                                                                                     \
        }                                                                                                   \
    } while (0)

/* Checks that the last failure's error JSON names `error` (and holds
 * `also`, when given), then frees it. */
static void expect_error(int line, const char *error, const char *also) {
    char want[64];
    snprintf(want, sizeof want, "{\"error\":\"%s\",\"message\":\"", error);
    if (!err || !has(err, want) || (also && !has(err, also))) {
        fprintf(stderr, "capacity.c:%d: expected an error JSON with %s%s%s, found %s\n", line, want,
                also ? " and " : "", also ? also : "", err ? err : "NULL");
        failures++;
    }
    haplan_string_free(err);
    err = NULL;
}
#define EXPECT_ERROR(error, also) expect_error(__LINE__, error, also)

static void headroom(void) {
    haplan_pool *rack = load("fixtures/headroom/rack.json");
    const char *vm = "{\"memory_mib\": 32768, \"vcpus\": 4}";
    char *report = NULL;

    /* K = 1: 12 more, exactly (rack.json.expected). */
    CHECK_RC(haplan_headroom(rack, BUF(vm), NULL, 0, &report, &err), HAPLAN_OK);
    REQUIRE(report);
    char *want = golden("fixtures/headroom/rack.json.expected");
    SAME_STR(report, want, "pool");
    SAME_NUM(report, want, "tolerate");
    SAME_STR(report, want, "ok");
    SAME_STR(report, want, "verdict");
    SAME_NUM(report, want, "max_additional");
    SAME_NUM(report, want, "upper_bound");
    SAME_STR(report, want, "exact");
    SAME_STR(report, want, "kind");
    CHECK(numv(report, "max_additional") == 12);
    CHECK(has(report, "\"vm\":{\"demand\":{\"memory_mib\":32768,\"vcpus\":4},\"storage\":[],\"networks\":[]}"));
    free(want);
    haplan_string_free(report);
    report = NULL;

    /* Networks as an option, as --networks: only h1 and h2 have dmz (rack.dmz.expected). */
    CHECK_RC(haplan_headroom(rack, BUF(vm), BUF("{\"networks\": [\"dmz\"], \"threads\": 1}"), &report, &err),
             HAPLAN_OK);
    REQUIRE(report);
    want = golden("fixtures/headroom/rack.dmz.expected");
    SAME_NUM(report, want, "max_additional");
    SAME_NUM(report, want, "upper_bound");
    CHECK(numv(report, "max_additional") == 4);
    CHECK(has(report, "\"networks\":[\"dmz\"]"));
    free(want);
    haplan_string_free(report);
    report = NULL;

    /* K = 2: 4 (rack.tolerate2.expected, a text golden: "can start 4 more"). */
    CHECK_RC(haplan_headroom(rack, BUF(vm), BUF("{\"tolerate\": 2, \"time_limit_s\": 600}"), &report, &err),
             HAPLAN_OK);
    REQUIRE(report);
    CHECK(numv(report, "tolerate") == 2);
    CHECK(numv(report, "max_additional") == 4);
    CHECK(has(report, "\"exact\":true"));
    haplan_string_free(report);
    report = NULL;

    /* Storage only h4 has: 0, an answer (rack.local.expected). */
    CHECK_RC(haplan_headroom(rack, BUF(vm), BUF("{\"storage\": [\"nfs\", \"local-h4\"]}"), &report, &err),
             HAPLAN_OK);
    REQUIRE(report);
    CHECK(numv(report, "max_additional") == 0);
    CHECK(has(report, "\"ok\":true"));
    haplan_string_free(report);
    report = NULL;

    /* A bad shape, every problem at the path the CLI names it (rack.bad-*.expected). */
    char *out = UNTOUCHED;
    CHECK_RC(haplan_headroom(rack, BUF("{\"memory\": 32768, \"cpus\": 4}"), NULL, 0, &out, &err),
             HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "\"path\":\"--vm.cpus\",\"message\":\"unknown resource \\\"cpus\\\"");
    CHECK_RC(haplan_headroom(rack, BUF("{\"memory_mib\": -1, \"vcpus\": 2.5}"), NULL, 0, &out, &err),
             HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "invalid VM shape (2 problems)");
    CHECK_RC(haplan_headroom(rack, BUF("{}"), BUF("{\"storage\": [\"\"]}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "\"path\":\"--storage[0]\",\"message\":\"must not be empty\"");
    CHECK_RC(haplan_headroom(rack, BUF("{\"memory_mib\": 32768,"), NULL, 0, &out, &err), HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", "\"line\":1,\"column\":21");
    CHECK_RC(haplan_headroom(rack, BUF("{\"memory_mib\": 1}"), NULL, 0, &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "--vm: so small a VM could fit more than 100000 times");
    CHECK_RC(haplan_headroom(rack, BUF("[32768]"), NULL, 0, &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", NULL);
    /* Bad options. */
    const char *bad_options[] = {
        "{\"vm\": {}}",         "{\"storage\": \"nfs\"}", "{\"networks\": [1]}", "{\"tolerate\": -1}",
        "{\"time_limit_s\": -1}", "{\"threads\": 0}",       "{\"method\": \"search\"}",
    };
    for (size_t i = 0; i < sizeof bad_options / sizeof *bad_options; i++) {
        CHECK_RC(haplan_headroom(rack, BUF(vm), BUF(bad_options[i]), &out, &err), HAPLAN_INVALID_ARGUMENT);
        EXPECT_ERROR("invalid_argument", NULL);
    }
    /* NULL pointers. */
    CHECK_RC(haplan_headroom(NULL, BUF(vm), NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "pool is NULL");
    CHECK_RC(haplan_headroom(rack, NULL, 0, NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "vm_json is NULL");
    CHECK_RC(haplan_headroom(rack, BUF(vm), NULL, 3, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "options_json is NULL");
    CHECK_RC(haplan_headroom(rack, BUF(vm), NULL, 0, NULL, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "report_json is NULL");
    CHECK_RC(haplan_headroom(rack, BUF("{\"memory_mib\": \"\xff\"}"), NULL, 0, &out, NULL), HAPLAN_INVALID_UTF8);
    CHECK(out == UNTOUCHED);

    haplan_pool_free(rack);
}

static void drain(void) {
    haplan_pool *spread = load("fixtures/drain/spread.json");
    char *report = NULL;

    /* h1 drains: a to h2, b to h3 (spread.json.expected). */
    CHECK_RC(haplan_drain(spread, BUF("\"h1\""), NULL, 0, &report, &err), HAPLAN_OK);
    REQUIRE(report);
    char *want = golden("fixtures/drain/spread.json.expected");
    SAME_STR(report, want, "host");
    SAME_NUM(report, want, "tolerate");
    SAME_STR(report, want, "ok");
    SAME_STR(report, want, "verdict");
    SAME_STR(report, want, "reason");
    SAME_STR(report, want, "method");
    SAME_STR(report, want, "to"); /* the first move's target */
    SAME_NUM(value(report, "end_state"), value(want, "end_state"), "max_tolerable");
    CHECK(has(report, "\"verdict\":\"drainable\""));
    CHECK(has(report, "\"moves\":[{\"vm\":\"a\",\"from\":\"h1\",\"to\":\"h2\"},{\"vm\":\"b\",\"from\":\"h1\",\"to\":\"h3\"}]"));
    free(want);
    haplan_string_free(report);
    report = NULL;

    /* K = 3: blocked, an answer, not an error (spread.tolerate3.expected, exit 1). */
    CHECK_RC(haplan_drain(spread, BUF("\"h1\""), BUF("{\"tolerate\": 3, \"time_limit_s\": 60, \"threads\": 1}"),
                          &report, &err),
             HAPLAN_OK);
    REQUIRE(report);
    CHECK(has(report, "\"verdict\":\"blocked\""));
    CHECK(has(report, "\"ok\":false"));
    CHECK(has(report, "only 2 hosts are up, fewer than K = 3"));
    haplan_string_free(report);
    report = NULL;

    /* h3 with K = 0: d to h2 (spread.tolerate0-h3.expected). */
    CHECK_RC(haplan_drain(spread, BUF(" \"h3\" "), BUF("{\"tolerate\": 0}"), &report, &err), HAPLAN_OK);
    REQUIRE(report);
    CHECK(has(report, "\"verdict\":\"drainable\""));
    CHECK(has(report, "{\"vm\":\"d\",\"from\":\"h3\",\"to\":\"h2\"}"));
    haplan_string_free(report);
    report = NULL;

    char *out = UNTOUCHED;
    /* Unknown, in maintenance, down (spread.unknown/maintenance/down.expected). */
    CHECK_RC(haplan_drain(spread, BUF("\"nope\""), NULL, 0, &out, &err), HAPLAN_UNKNOWN_NAME);
    EXPECT_ERROR("unknown_name", "unknown host \\\"nope\\\"");
    CHECK_RC(haplan_drain(spread, BUF("\"h4\""), NULL, 0, &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "is already in maintenance: only a host that is up can be drained");
    CHECK_RC(haplan_drain(spread, BUF("\"h5\""), NULL, 0, &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "h5");
    /* The name is a JSON string. */
    CHECK_RC(haplan_drain(spread, BUF("h1"), NULL, 0, &out, &err), HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", NULL);
    CHECK_RC(haplan_drain(spread, BUF("[\"h1\"]"), NULL, 0, &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "host_json");
    /* Bad options. */
    CHECK_RC(haplan_drain(spread, BUF("\"h1\""), BUF("{\"max_checks\": 5}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "unknown field");
    CHECK_RC(haplan_drain(spread, BUF("\"h1\""), BUF("{\"time_limit_s\": -1}"), &out, &err),
             HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "time_limit_s");
    CHECK_RC(haplan_drain(spread, BUF("\"h1\""), BUF("{\"threads\": 0}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "threads");
    /* NULL pointers. */
    CHECK_RC(haplan_drain(NULL, BUF("\"h1\""), NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "pool is NULL");
    CHECK_RC(haplan_drain(spread, NULL, 0, NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "host_json is NULL");
    CHECK_RC(haplan_drain(spread, BUF("\"h1\""), NULL, 0, NULL, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "report_json is NULL");
    CHECK(out == UNTOUCHED);

    haplan_pool_free(spread);
}

static void tiers(void) {
    haplan_pool *pool = load("fixtures/tiers/tiers.json");
    char *report = NULL;

    /* critical 3, high 2, low 1 (tiers.json.expected). */
    CHECK_RC(haplan_tiers(pool, NULL, 0, &report, &err), HAPLAN_OK);
    REQUIRE(report);
    char *want = golden("fixtures/tiers/tiers.json.expected");
    SAME_STR(report, want, "pool");
    SAME_NUM(report, want, "max_tolerable");
    SAME_STR(report, want, "ok");
    SAME_STR(report, want, "verdict");
    SAME_STR(report, want, "exact");
    for (int i = 0; i < 3; i++) {
        const char *got = nth(report, "\"priority\":", i);
        const char *w = nth(want, "\"priority\":", i);
        REQUIRE(got && w);
        SAME_STR(got, w, "priority");
        SAME_NUM(got, w, "vms");
        SAME_NUM(got, w, "max_tolerable");
        SAME_NUM(got, w, "upper_bound");
    }
    CHECK(has(report, "{\"priority\":\"critical\",\"vms\":2,\"max_tolerable\":3,"));
    CHECK(has(report, "{\"priority\":\"high\",\"vms\":6,\"max_tolerable\":2,"));
    CHECK(has(report, "{\"priority\":\"low\",\"vms\":10,\"max_tolerable\":1,"));
    CHECK(value(report, "degradation") != NULL);
    free(want);
    haplan_string_free(report);
    report = NULL;

    /* K = 3: overcommitted, an answer (tiers.tolerate3.expected, exit 1). */
    CHECK_RC(haplan_tiers(pool, BUF("{\"tolerate\": 3, \"time_limit_s\": 60, \"threads\": 2}"), &report, &err),
             HAPLAN_OK);
    REQUIRE(report);
    CHECK(has(report, "\"configured\":3,"));
    CHECK(has(report, "\"ok\":false"));
    CHECK(has(report, "\"verdict\":\"not_ok\""));
    haplan_string_free(report);

    char *out = UNTOUCHED;
    CHECK_RC(haplan_tiers(pool, BUF("{\"explain\": true}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "unknown field");
    CHECK_RC(haplan_tiers(pool, BUF("{\"tolerate\": \"2\"}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", NULL);
    CHECK_RC(haplan_tiers(pool, BUF("{\"tolerate\""), &out, &err), HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", NULL);
    CHECK_RC(haplan_tiers(NULL, NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "pool is NULL");
    CHECK_RC(haplan_tiers(pool, NULL, 0, NULL, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "report_json is NULL");
    CHECK(out == UNTOUCHED);

    haplan_pool_free(pool);
}

static void timing(void) {
    haplan_pool *groups = load("fixtures/timing/groups.json");
    char *report = NULL;

    /* K = 1: worst {h1}, 250 s, last web1 (groups.json.expected). */
    CHECK_RC(haplan_timing(groups, NULL, 0, &report, &err), HAPLAN_OK);
    REQUIRE(report);
    char *want = golden("fixtures/timing/groups.json.expected");
    SAME_STR(report, want, "ok");
    SAME_STR(report, want, "verdict");
    SAME_NUM(report, want, "tolerate");
    SAME_STR(report, want, "search");
    SAME_NUM(report, want, "sets");
    SAME_NUM(report, want, "detection_s");
    SAME_NUM(report, want, "makespan_s");
    SAME_NUM(report, want, "total_s");
    SAME_STR(report, want, "last_vm");
    CHECK(numv(report, "total_s") == 250);
    CHECK(has(report, "\"failed_hosts\":[\"h1\"]"));
    free(want);
    haplan_string_free(report);
    report = NULL;

    /* One failure set: {h2, h3}, 190 s, last batch (groups.fail-h2-h3.expected). */
    CHECK_RC(haplan_timing(groups, BUF("{\"fail\": [\"h2\", \"h3\"]}"), &report, &err), HAPLAN_OK);
    REQUIRE(report);
    want = golden("fixtures/timing/groups.fail-h2-h3.expected");
    SAME_STR(report, want, "search");
    SAME_NUM(report, want, "total_s");
    SAME_STR(report, want, "last_vm");
    CHECK(numv(report, "total_s") == 190);
    CHECK(has(report, "\"tolerate\":null"));
    free(want);
    haplan_string_free(report);
    report = NULL;

    /* K = 2, one start at a time: {h1, h2}, 350 s (groups.concurrency1.expected). */
    CHECK_RC(haplan_timing(groups, BUF("{\"tolerate\": 2, \"concurrency\": 1, \"threads\": 1}"), &report, &err),
             HAPLAN_OK);
    REQUIRE(report);
    want = golden("fixtures/timing/groups.concurrency1.expected");
    SAME_NUM(report, want, "concurrency");
    SAME_NUM(report, want, "sets");
    SAME_NUM(report, want, "total_s");
    SAME_STR(report, want, "last_vm");
    CHECK(numv(report, "total_s") == 350);
    free(want);
    haplan_string_free(report);
    report = NULL;

    /* --boot-time 30 --fence-time 45: 265 s (groups.boot-fence.expected, text: "265 s"). */
    CHECK_RC(haplan_timing(groups, BUF("{\"boot_time_s\": 30, \"fence_time_s\": 45}"), &report, &err), HAPLAN_OK);
    REQUIRE(report);
    CHECK(numv(report, "boot_time_s") == 30);
    CHECK(numv(report, "fence_s") == 45);
    CHECK(numv(report, "total_s") == 265);
    haplan_string_free(report);
    report = NULL;

    /* The CLI's errors (groups.bad-*.expected). */
    char *out = UNTOUCHED;
    CHECK_RC(haplan_timing(groups, BUF("{\"fail\": [\"h1\", \"h9\"]}"), &out, &err), HAPLAN_UNKNOWN_NAME);
    EXPECT_ERROR("unknown_name", "fail: unknown host \\\"h9\\\"");
    CHECK_RC(haplan_timing(groups, BUF("{\"fail\": [\"m1\"]}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "fail: host \\\"m1\\\" is in maintenance");
    CHECK_RC(haplan_timing(groups, BUF("{\"concurrency\": 0}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "concurrency: must be from 1 to 4294967295, found 0");
    CHECK_RC(haplan_timing(groups, BUF("{\"tolerate\": 1, \"fail\": [\"h1\"]}"), &out, &err),
             HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "tolerate and fail cannot both be given");
    CHECK_RC(haplan_timing(groups, BUF("{\"boot_time_s\": 4294967296}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "boot_time_s: must be from 0 to 4294967295, found 4294967296");
    CHECK_RC(haplan_timing(groups, BUF("{\"fence_time_s\": 4294967296}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "fence_time_s: must be from 0 to 4294967295, found 4294967296");
    const char *bad_options[] = {
        "{\"boot_time_s\": -5}",     "{\"boot_time_s\": 1.5}", "{\"fence_time_s\": \"soon\"}",
        "{\"concurrency\": -1}",     "{\"fail\": \"h1\"}",      "{\"set_limit\": 1}",
        "{\"time_limit_s\": -1}",    "{\"threads\": 0}",        "{\"fail\": [\"h1\"], \"bogus\": 1}",
        "{\"max_time_s\": 1}",
    };
    for (size_t i = 0; i < sizeof bad_options / sizeof *bad_options; i++) {
        haplan_result rc = haplan_timing(groups, BUF(bad_options[i]), &out, &err);
        if (rc != HAPLAN_INVALID_ARGUMENT) {
            fprintf(stderr, "timing options %s gave %s\n", bad_options[i], haplan_result_name(rc));
            failures++;
        }
        EXPECT_ERROR("invalid_argument", NULL);
    }
    CHECK_RC(haplan_timing(NULL, NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "pool is NULL");
    CHECK_RC(haplan_timing(groups, NULL, 0, NULL, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "report_json is NULL");
    CHECK_RC(haplan_timing(groups, NULL, 2, &out, NULL), HAPLAN_NULL_ARGUMENT);
    CHECK(out == UNTOUCHED);

    haplan_pool_free(groups);
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    root = argv[1];
    headroom();
    drain();
    tiers();
    timing();
    CHECK(err == NULL);
    if (failures) {
        fprintf(stderr, "capacity: %d check(s) failed\n", failures);
        return 1;
    }
    printf("capacity: ok (headroom, drain, tiers, timing)\n");
    return 0;
}
