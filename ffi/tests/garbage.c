/* Garbage in, codes out: NULL everywhere, invalid UTF-8, truncated and
 * empty JSON, deep nesting, huge numbers and lengths, unknown names and
 * events. Every call must return its code, write the error JSON (and
 * nothing else), and leak nothing (AddressSanitizer runs this too).
 *
 * Usage: garbage REPO_ROOT */
#include "check.h"

static char *err = NULL;

/* Checks that the last failure's error JSON names `error` (and holds
 * `also`, when given), then frees it. */
static void expect_error(int line, const char *error, const char *also) {
    char want[64];
    snprintf(want, sizeof want, "{\"error\":\"%s\",\"message\":\"", error);
    if (!err || !has(err, want) || !has(err, "\"problems\":[") || (also && !has(err, also))) {
        fprintf(stderr, "garbage.c:%d: expected an error JSON with %s%s%s, found %s\n", line, want,
                also ? " and " : "", also ? also : "", err ? err : "NULL");
        failures++;
    }
    haplan_string_free(err);
    err = NULL;
}
#define EXPECT_ERROR(error, also) expect_error(__LINE__, error, also)

/* An out-parameter haplan must leave alone on failure. */
#define UNTOUCHED ((void *)0x1)

static void pools(const char *demo, size_t demo_len) {
    haplan_pool *pool = UNTOUCHED;

    CHECK_RC(haplan_pool_new(NULL, 0, &pool, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "json is NULL");
    CHECK_RC(haplan_pool_new(NULL, 10, &pool, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", NULL);
    CHECK_RC(haplan_pool_new((const uint8_t *)demo, demo_len, NULL, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "out is NULL");
    /* No error_json wanted: the code alone. */
    CHECK_RC(haplan_pool_new(NULL, 0, &pool, NULL), HAPLAN_NULL_ARGUMENT);

    CHECK_RC(haplan_pool_new(BUF("{\"name\": \"\xff\xfe\"}"), &pool, &err), HAPLAN_INVALID_UTF8);
    EXPECT_ERROR("invalid_utf8", NULL);
    CHECK_RC(haplan_pool_new((const uint8_t *)"", 0, &pool, &err), HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", "\"line\":1");
    /* Truncated in the middle of the file. */
    CHECK_RC(haplan_pool_new((const uint8_t *)demo, demo_len / 2, &pool, &err), HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", "EOF while parsing");
    /* A NUL inside the buffer is not the end of the JSON. */
    CHECK_RC(haplan_pool_new((const uint8_t *)"{}\0", 3, &pool, &err), HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", NULL);
    /* Nested deeper than the parser goes. */
    size_t deep = 100000;
    char *nest = malloc(deep);
    REQUIRE(nest);
    memset(nest, '[', deep);
    CHECK_RC(haplan_pool_new((const uint8_t *)nest, deep, &pool, &err), HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", "recursion limit");
    free(nest);
    /* A length no buffer has: refused before anything is read. */
    CHECK_RC(haplan_pool_new((const uint8_t *)demo, SIZE_MAX, &pool, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "PTRDIFF_MAX");

    /* Huge numbers: beyond any JSON number, beyond i64, negative. */
    CHECK_RC(haplan_pool_new(BUF("{\"name\": \"x\", \"hosts\": [{\"name\": \"h\", \"capacity\": "
                                 "{\"memory_mib\": 1e999}}], \"vms\": []}"),
                             &pool, &err),
             HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", "number out of range");
    CHECK_RC(haplan_pool_new(BUF("{\"name\": \"x\", \"hosts\": [{\"name\": \"h\", \"capacity\": "
                                 "{\"memory_mib\": 99999999999999999999999999}}], \"vms\": []}"),
                             &pool, &err),
             HAPLAN_INVALID_POOL);
    EXPECT_ERROR("invalid_pool", "\"path\":\"hosts[0].capacity.memory_mib\"");
    CHECK_RC(haplan_pool_new(BUF("{\"name\": \"x\", \"hosts\": [{\"name\": \"h\", \"capacity\": "
                                 "{\"memory_mib\": 9223372036854775807}}], \"vms\": [{\"name\": \"a\", "
                                 "\"host\": \"h\", \"demand\": {\"memory_mib\": -5}}]}"),
                             &pool, &err),
             HAPLAN_INVALID_POOL);
    EXPECT_ERROR("invalid_pool", "\"path\":\"vms[0].demand.memory_mib\"");
    /* Every problem, each at its path. */
    CHECK_RC(haplan_pool_new(BUF("{\"name\": \"x\", \"hosts\": [{\"name\": \"h\", \"capacity\": {}}],"
                                 " \"vms\": [{\"name\": \"a\", \"host\": \"nowhere\", \"demand\": {}},"
                                 " {\"name\": \"b\", \"host\": \"h\", \"demand\": {\"memory_mib\": \"lots\"}}]}"),
                             &pool, &err),
             HAPLAN_INVALID_POOL);
    EXPECT_ERROR("invalid_pool", "\"path\":\"vms[1].demand.memory_mib\"");
    CHECK_RC(haplan_pool_new(BUF("[1, 2, 3]"), &pool, &err), HAPLAN_INVALID_POOL);
    EXPECT_ERROR("invalid_pool", NULL);

    CHECK(pool == UNTOUCHED);
}

static void queries(const haplan_pool *demo) {
    char *out = UNTOUCHED;

    /* check */
    CHECK_RC(haplan_check(NULL, NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "pool is NULL");
    CHECK_RC(haplan_check(demo, NULL, 0, NULL, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "report_json is NULL");
    CHECK_RC(haplan_check(demo, NULL, 5, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "options_json is NULL");
    const char *bad_options[] = {
        "{\"tolerate\": -1}",           "{\"tolerate\": 4294967296}", "{\"tolerate\": 1e999999}",
        "{\"time_limit_s\": -1}",       "{\"time_limit_s\": 1e300}",  "{\"threads\": 0}",
        "{\"threads\": 1000000000}",    "{\"threads\": 2.5}",         "{\"explain\": \"yes\"}",
        "{\"bogus\": 1}",               "[]",                         "{\"tolerate\": 1",
        "{\"time_limit_s\": \"soon\"}", "{\"max_time_s\": -1}",
    };
    for (size_t i = 0; i < sizeof bad_options / sizeof *bad_options; i++) {
        haplan_result rc = haplan_check(demo, BUF(bad_options[i]), &out, &err);
        if (rc != HAPLAN_INVALID_ARGUMENT && rc != HAPLAN_INVALID_JSON) {
            fprintf(stderr, "options %s gave %s\n", bad_options[i], haplan_result_name(rc));
            failures++;
        }
        CHECK(err != NULL);
        haplan_string_free(err);
        err = NULL;
    }
    CHECK(out == UNTOUCHED);
    /* The largest K there is: an answer, not an error. */
    CHECK_RC(haplan_check(demo, BUF("{\"tolerate\": 4294967295}"), &out, &err), HAPLAN_OK);
    CHECK(out != UNTOUCHED && has(out, "\"configured\":4294967295") && has(out, "\"ok\":false"));
    if (out != UNTOUCHED) haplan_string_free(out);
    out = UNTOUCHED;
    /* Options of length 0 are absent, whatever the pointer. */
    CHECK_RC(haplan_check(demo, (const uint8_t *)"garbage", 0, &out, &err), HAPLAN_OK);
    if (out != UNTOUCHED) haplan_string_free(out);
    out = UNTOUCHED;

    /* plan */
    CHECK_RC(haplan_plan(demo, NULL, 0, NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "failed_json is NULL");
    CHECK_RC(haplan_plan(demo, BUF("[\"xs99\"]"), NULL, 0, &out, &err), HAPLAN_UNKNOWN_NAME);
    EXPECT_ERROR("unknown_name", "xs99");
    CHECK_RC(haplan_plan(demo, BUF("\"xs01\""), NULL, 0, &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", NULL);
    CHECK_RC(haplan_plan(demo, BUF("[\"xs01\""), NULL, 0, &out, &err), HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", NULL);
    CHECK_RC(haplan_plan(demo, BUF("[\"xs01\"]"), BUF("{\"tolerate\": 1}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "unknown field");
    CHECK(out == UNTOUCHED);

    /* agility */
    CHECK_RC(haplan_agility(NULL, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", NULL);
    CHECK_RC(haplan_agility(demo, NULL, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", NULL);

    /* what-if: nothing applied, every problem at its change. */
    haplan_pool *changed = UNTOUCHED;
    CHECK_RC(haplan_whatif(demo, BUF("[{\"op\": \"remove_vm\", \"name\": \"ghost\"}, {\"op\": \"explode\"}]"),
                           NULL, 0, &out, &changed, &err),
             HAPLAN_INVALID_CHANGES);
    EXPECT_ERROR("invalid_changes", "\"path\":\"changes[0].name\"");
    CHECK_RC(haplan_whatif(demo, BUF("[{\"op\": \"set_tolerance\", \"k\": 99999999999999999999}]"), NULL, 0,
                           &out, &changed, &err),
             HAPLAN_INVALID_CHANGES);
    EXPECT_ERROR("invalid_changes", "\"path\":\"changes[0].k\"");
    CHECK_RC(haplan_whatif(demo, BUF("[{\"op\""), NULL, 0, &out, &changed, &err), HAPLAN_INVALID_JSON);
    EXPECT_ERROR("invalid_json", NULL);
    CHECK_RC(haplan_whatif(demo, NULL, 0, NULL, 0, &out, &changed, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", NULL);
    CHECK(out == UNTOUCHED && changed == UNTOUCHED);
    /* `changed` may be NULL. */
    CHECK_RC(haplan_whatif(demo, BUF("[]"), NULL, 0, &out, NULL, &err), HAPLAN_OK);
    if (out != UNTOUCHED) haplan_string_free(out);
    out = UNTOUCHED;

    /* diff */
    CHECK_RC(haplan_diff(demo, NULL, NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "new_pool is NULL");
    CHECK_RC(haplan_diff(demo, demo, BUF("{\"no_regress\": 1}"), &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", NULL);
    CHECK(out == UNTOUCHED);
}

static void runtime(const char *root) {
    char path[4096];
    snprintf(path, sizeof path, "%s/fixtures/runtime/rack.json", root);
    size_t len;
    char *json = read_file(path, &len);
    haplan_pool *rack = NULL;
    REQUIRE(haplan_pool_new((const uint8_t *)json, len, &rack, NULL) == HAPLAN_OK);
    free(json);

    haplan_runtime *rt = UNTOUCHED;
    char *out = UNTOUCHED;
    CHECK_RC(haplan_runtime_new(NULL, 0, &rt, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", NULL);
    CHECK_RC(haplan_runtime_new(rack, 0, &rt, NULL, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "output_json is NULL");
    CHECK_RC(haplan_runtime_new(rack, 0, NULL, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", NULL);
    CHECK(rt == UNTOUCHED && out == UNTOUCHED);

    /* The end of time: HAPLAN_MAX_TIME_MS still works, a millisecond
     * later is refused. */
    CHECK_RC(haplan_runtime_new(rack, UINT64_MAX, &rt, &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "HAPLAN_MAX_TIME_MS");
    CHECK_RC(haplan_runtime_new(rack, HAPLAN_MAX_TIME_MS + 1, &rt, &out, &err), HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", NULL);
    CHECK(rt == UNTOUCHED && out == UNTOUCHED);
    rt = NULL;
    CHECK_RC(haplan_runtime_new(rack, HAPLAN_MAX_TIME_MS - 100000, &rt, &out, &err), HAPLAN_OK);
    REQUIRE(rt);
    haplan_string_free(out);
    out = UNTOUCHED;
    char input[256];
    for (uint64_t t = HAPLAN_MAX_TIME_MS - 100000; t <= HAPLAN_MAX_TIME_MS; t += 5000) {
        snprintf(input, sizeof input, "{\"at\": %" PRIu64 ", \"event\": {\"type\": \"tick\"}}", t);
        CHECK_RC(haplan_runtime_handle(rt, BUF(input), &out, &err), HAPLAN_OK);
        if (out != UNTOUCHED) haplan_string_free(out);
        out = UNTOUCHED;
    }
    CHECK_RC(haplan_runtime_handle(rt, BUF("{\"at\": 18446744073709551615, \"event\": {\"type\": \"tick\"}}"),
                                   &out, &err),
             HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "HAPLAN_MAX_TIME_MS");
    CHECK(out == UNTOUCHED);
    haplan_runtime_free(rt);

    rt = NULL;
    CHECK_RC(haplan_runtime_new(rack, 0, &rt, &out, &err), HAPLAN_OK);
    REQUIRE(rt);
    haplan_string_free(out);
    out = UNTOUCHED;
    haplan_pool_free(rack);

    char *before = NULL;
    REQUIRE(haplan_runtime_state_json(rt, &before, NULL) == HAPLAN_OK);

    CHECK_RC(haplan_runtime_handle(NULL, BUF("{\"at\": 1, \"event\": {\"type\": \"tick\"}}"), &out, &err),
             HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "rt is NULL");
    CHECK_RC(haplan_runtime_handle(rt, NULL, 0, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "input_json is NULL");
    CHECK_RC(haplan_runtime_handle(rt, BUF("{\"at\": 1, \"event\": {\"type\": \"tick\"}}"), NULL, &err),
             HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", "output_json is NULL");

    struct {
        const char *input;
        haplan_result rc;
        const char *error;
    } events[] = {
        {"", HAPLAN_INVALID_JSON, "invalid_json"},
        {"{\"at\": 1, \"event\": {\"type\": \"tick\"}", HAPLAN_INVALID_JSON, "invalid_json"},
        {"{\"at\": 1, \"event\": {\"type\": \"t\xc3\"}}", HAPLAN_INVALID_UTF8, "invalid_utf8"},
        {"{\"at\": 1e999, \"event\": {\"type\": \"tick\"}}", HAPLAN_INVALID_JSON, "invalid_json"},
        {"{\"at\": 18446744073709551616, \"event\": {\"type\": \"tick\"}}", HAPLAN_INVALID_ARGUMENT,
         "invalid_argument"},
        {"{\"at\": -1, \"event\": {\"type\": \"tick\"}}", HAPLAN_INVALID_ARGUMENT, "invalid_argument"},
        {"{\"at\": 1, \"event\": {\"type\": \"explode\"}}", HAPLAN_INVALID_ARGUMENT, "invalid_argument"},
        {"{\"at\": 1, \"event\": {\"type\": \"host_down\"}}", HAPLAN_INVALID_ARGUMENT, "invalid_argument"},
        {"{\"at\": 1, \"event\": {\"type\": \"host_down\", \"host\": \"r1\", \"extra\": 1}}",
         HAPLAN_INVALID_ARGUMENT, "invalid_argument"},
        {"{\"at\": 1}", HAPLAN_INVALID_ARGUMENT, "invalid_argument"},
        {"{\"at\": 1, \"event\": {\"type\": \"host_down\", \"host\": \"r9\"}}", HAPLAN_UNKNOWN_NAME,
         "unknown_name"},
        {"{\"at\": 1, \"event\": {\"type\": \"vm_crashed\", \"vm\": \"ghost\"}}", HAPLAN_UNKNOWN_NAME,
         "unknown_name"},
        /* r1 still runs VMs: it cannot leave the pool. */
        {"{\"at\": 1, \"event\": {\"type\": \"host_removed\", \"host\": \"r1\"}}", HAPLAN_REFUSED, "refused"},
        /* A host whose name is taken. */
        {"{\"at\": 1, \"event\": {\"type\": \"host_added\", \"host\": {\"name\": \"r2\", \"capacity\": "
         "{\"memory_mib\": 1}}}}",
         HAPLAN_REFUSED, "refused"},
        {"{\"at\": 1, \"event\": {\"type\": \"vm_resized\", \"vm\": \"db\", \"demand\": {\"memory_mib\": "
         "99999999999999999999}}}",
         HAPLAN_INVALID_ARGUMENT, "invalid_argument"},
    };
    for (size_t i = 0; i < sizeof events / sizeof *events; i++) {
        haplan_result rc = haplan_runtime_handle(rt, BUF(events[i].input), &out, &err);
        if (rc != events[i].rc) {
            fprintf(stderr, "event %s gave %s (%s), expected %s\n", events[i].input, haplan_result_name(rc),
                    err ? err : "", haplan_result_name(events[i].rc));
            failures++;
        }
        EXPECT_ERROR(events[i].error, NULL);
    }
    CHECK(out == UNTOUCHED);

    /* Refused events changed nothing. */
    char *after = NULL;
    REQUIRE(haplan_runtime_state_json(rt, &after, NULL) == HAPLAN_OK);
    CHECK(!strcmp(before, after));
    haplan_string_free(before);
    haplan_string_free(after);

    /* Admission checks. */
    CHECK_RC(haplan_runtime_check_operation(NULL, BUF("{\"op\": \"vm_resume\", \"vm\": \"db\"}"), &out, &err),
             HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", NULL);
    CHECK_RC(haplan_runtime_check_operation(rt, BUF("{\"op\": \"vm_migrate\", \"vm\": \"ghost\", \"host\": \"r2\"}"),
                                            &out, &err),
             HAPLAN_UNKNOWN_NAME);
    EXPECT_ERROR("unknown_name", "ghost");
    CHECK_RC(haplan_runtime_check_operation(rt, BUF("{\"op\": \"reboot_universe\"}"), &out, &err),
             HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", NULL);
    CHECK_RC(haplan_runtime_check_operation(rt, BUF("{\"op\": \"set_tolerance\", \"k\": -3}"), &out, &err),
             HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", NULL);
    CHECK(out == UNTOUCHED);
    /* A definition the pool format refuses: its problems, at their paths. */
    CHECK_RC(haplan_runtime_check_operation(rt,
                                            BUF("{\"op\": \"vm_start\", \"vm\": \"huge\", \"host\": \"r2\", "
                                                "\"definition\": {\"name\": \"huge\", \"host\": \"r2\", "
                                                "\"demand\": {\"memory_mib\": 9223372036854775807}}}"),
                                            &out, &err),
             HAPLAN_INVALID_ARGUMENT);
    EXPECT_ERROR("invalid_argument", "memory_mib");
    /* A VM far too big for any host: an answer ("refused"), not an error. */
    CHECK_RC(haplan_runtime_check_operation(rt,
                                            BUF("{\"op\": \"vm_start\", \"vm\": \"huge\", \"host\": \"r2\", "
                                                "\"definition\": {\"name\": \"huge\", \"host\": \"r2\", "
                                                "\"demand\": {\"memory_mib\": 10000000}}}"),
                                            &out, &err),
             HAPLAN_OK);
    CHECK(out != UNTOUCHED && has(out, "{\"verdict\":\"refused\""));
    if (out != UNTOUCHED) haplan_string_free(out);
    out = UNTOUCHED;

    CHECK_RC(haplan_runtime_state_json(NULL, &out, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", NULL);
    CHECK_RC(haplan_runtime_state_json(rt, NULL, &err), HAPLAN_NULL_ARGUMENT);
    EXPECT_ERROR("null_argument", NULL);

    haplan_runtime_free(rt);
}

/* The id of the first action of `type` for `host` in `output`, or 0. */
static uint64_t action_id(const char *output, const char *type, const char *host) {
    char pat[64], h[32];
    snprintf(pat, sizeof pat, "{\"type\":\"%s\",\"id\":", type);
    for (const char *p = strstr(output, pat); p; p = strstr(p + 1, pat))
        if (!strcmp(str(p, "host", h, sizeof h), host)) return num(p, "id", 0);
    return 0;
}

/* Answers to the runtime's actions (docs/runtime.md, "Every request has a
 * deadline"): one naming a host or a VM the pool does not have is refused
 * as unknown and changes nothing; an inventory with the amounts its VMs
 * have now is taken; a probe never answered becomes an alert at its
 * deadline. */
static void answers(const char *root) {
    haplan_pool *rack = load_pool(root, "fixtures/runtime/rack.json");
    haplan_runtime *rt = NULL;
    char *out = NULL;
    REQUIRE(haplan_runtime_new(rack, 0, &rt, &out, NULL) == HAPLAN_OK && rt);
    haplan_pool_free(rack);
    uint64_t probe_r1 = action_id(out, "probe", "r1"), probe_r2 = action_id(out, "probe", "r2");
    uint64_t inventory = action_id(out, "inventory", "r2");
    haplan_string_free(out);
    REQUIRE(probe_r1 && probe_r2);
    char input[512];
    if (!inventory) {
        /* Inventoried once it answers. */
        snprintf(input, sizeof input,
                 "{\"at\": 50, \"event\": {\"type\": \"health_check\", \"id\": %" PRIu64
                 ", \"host\": \"r2\", \"ping\": true, \"api\": true}}",
                 probe_r2);
        REQUIRE(haplan_runtime_handle(rt, BUF(input), &out, NULL) == HAPLAN_OK);
        inventory = action_id(out, "inventory", "r2");
        haplan_string_free(out);
    }
    REQUIRE(inventory);
    char *before = NULL;
    REQUIRE(haplan_runtime_state_json(rt, &before, NULL) == HAPLAN_OK);

    struct {
        const char *format;
        uint64_t id;
        const char *name;
    } unknown[] = {
        {"{\"at\": 100, \"event\": {\"type\": \"health_check\", \"id\": %" PRIu64
         ", \"host\": \"r9\", \"ping\": true, \"api\": true}}",
         probe_r1, "r9"},
        {"{\"at\": 100, \"event\": {\"type\": \"inventory\", \"id\": %" PRIu64 ", \"host\": \"r9\", \"vms\": []}}",
         inventory, "r9"},
        {"{\"at\": 100, \"event\": {\"type\": \"vm_start_result\", \"id\": %" PRIu64
         ", \"vm\": \"ghost\", \"host\": \"r2\", \"ok\": true}}",
         inventory + 1000, "ghost"},
        {"{\"at\": 100, \"event\": {\"type\": \"vm_status\", \"id\": %" PRIu64 ", \"vm\": \"ghost\", \"host\": null}}",
         inventory + 1000, "ghost"},
        {"{\"at\": 100, \"event\": {\"type\": \"fence_result\", \"id\": %" PRIu64 ", \"host\": \"r9\", \"off\": true}}",
         inventory + 1000, "r9"},
    };
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        snprintf(input, sizeof input, unknown[i].format, unknown[i].id);
        out = UNTOUCHED;
        haplan_result rc = haplan_runtime_handle(rt, BUF(input), &out, &err);
        if (rc != HAPLAN_UNKNOWN_NAME) {
            fprintf(stderr, "answer %s gave %s, expected HAPLAN_UNKNOWN_NAME\n", input, haplan_result_name(rc));
            failures++;
        }
        CHECK(out == UNTOUCHED);
        if (rc == HAPLAN_OK && out != UNTOUCHED) haplan_string_free(out);
        if (rc != HAPLAN_OK) EXPECT_ERROR("unknown_name", unknown[i].name);
    }
    char *after = NULL;
    REQUIRE(haplan_runtime_state_json(rt, &after, NULL) == HAPLAN_OK);
    CHECK(!strcmp(before, after));
    haplan_string_free(before);
    haplan_string_free(after);

    /* r2 lists its VMs with the amounts they have now: app2 grew. */
    snprintf(input, sizeof input,
             "{\"at\": 200, \"event\": {\"type\": \"inventory\", \"id\": %" PRIu64
             ", \"host\": \"r2\", \"vms\": [\"app2\", \"web2\"], \"demand\": {\"app2\": {\"memory_mib\": 10240}, "
             "\"web2\": {\"memory_mib\": 4096}}}}",
             inventory);
    CHECK_RC(haplan_runtime_handle(rt, BUF(input), &out, &err), HAPLAN_OK);
    CHECK(has(out, "{\"type\":\"vm_resized_seen\",\"vm\":\"app2\",\"host\":\"r2\",\"demand\":{\"memory_mib\":10240}}"));
    CHECK(!has(out, "\"vm\":\"web2\",\"host\":\"r2\",\"demand\""));
    haplan_string_free(out);
    char *state = NULL;
    REQUIRE(haplan_runtime_state_json(rt, &state, NULL) == HAPLAN_OK);
    CHECK(has(state, "10240"));
    haplan_string_free(state);

    /* r1's probe is never answered: past its deadline (10 s) an alert names
     * it, and r1 is probed again. */
    CHECK_RC(haplan_runtime_handle(rt, BUF("{\"at\": 15000, \"event\": {\"type\": \"tick\"}}"), &out, &err),
             HAPLAN_OK);
    char want[128];
    snprintf(want, sizeof want,
             "{\"type\":\"request_unanswered\",\"action\":{\"type\":\"probe\",\"id\":%" PRIu64 ",\"host\":\"r1\"}}",
             probe_r1);
    CHECK(has(out, want));
    CHECK(action_id(out, "probe", "r1") > probe_r1);
    haplan_string_free(out);
    haplan_runtime_free(rt);
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    char path[4096];
    snprintf(path, sizeof path, "%s/fixtures/basic/demo.json", argv[1]);
    size_t len;
    char *demo_json = read_file(path, &len);

    pools(demo_json, len);
    haplan_pool *demo = NULL;
    REQUIRE(haplan_pool_new((const uint8_t *)demo_json, len, &demo, NULL) == HAPLAN_OK);
    queries(demo);
    haplan_pool_free(demo);
    free(demo_json);
    runtime(argv[1]);
    answers(argv[1]);

    /* Names of codes, known or not; frees of NULL. */
    CHECK(!strcmp(haplan_result_name(HAPLAN_OK), "HAPLAN_OK"));
    CHECK(!strcmp(haplan_result_name(HAPLAN_PANIC), "HAPLAN_PANIC"));
    CHECK(!strcmp(haplan_result_name(-1), "HAPLAN_UNKNOWN_RESULT"));
    CHECK(!strcmp(haplan_result_name(INT32_MAX), "HAPLAN_UNKNOWN_RESULT"));
    haplan_string_free(NULL);
    haplan_pool_free(NULL);
    haplan_runtime_free(NULL);

    if (failures) {
        fprintf(stderr, "garbage: %d check(s) failed\n", failures);
        return 1;
    }
    printf("garbage: ok\n");
    return 0;
}
