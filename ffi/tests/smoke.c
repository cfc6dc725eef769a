/* The C ABI end to end: load a pool, check it, plan, what-if and diff, then
 * drive a failover through the HA runtime by hand, answering its actions as
 * a host that lost power would, and free everything (AddressSanitizer's leak
 * check runs on this program too).
 *
 * Usage: smoke REPO_ROOT */
#include "check.h"

static const char *root;

static haplan_pool *load(const char *rel) { return load_pool(root, rel); }

static void queries(void) {
    haplan_pool *demo = load("fixtures/basic/demo.json");
    char *report = NULL, *err = NULL;

    /* check, default options: the README's first command. */
    CHECK_RC(haplan_check(demo, NULL, 0, &report, &err), HAPLAN_OK);
    REQUIRE(report);
    CHECK(has(report, "\"pool\":\"demo-pool\""));
    CHECK(num(report, "max_tolerable", 99) == 1);
    CHECK(has(report, "\"ok\":true"));
    CHECK(has(report, "\"witness\":null"));
    haplan_string_free(report);
    report = NULL;

    /* check with options: the witness of two failures. */
    CHECK_RC(haplan_check(demo, BUF("{\"explain\": true, \"threads\": 1, \"time_limit_s\": 60}"),
                          &report, &err),
             HAPLAN_OK);
    REQUIRE(report);
    CHECK(has(report, "\"failed_hosts\":[\"xs01\",\"xs02\"]"));
    haplan_string_free(report);
    report = NULL;

    /* K first: no limit on the whole, and nothing searched once K is
     * decided; the verdict is proved, the maximum here too (by bounds). */
    CHECK_RC(haplan_check(demo, BUF("{\"time_limit_s\": null, \"max_time_s\": 0}"), &report, &err),
             HAPLAN_OK);
    REQUIRE(report);
    CHECK(has(report, "\"verdict\":\"ok\""));
    CHECK(has(report, "\"stopped_by\":"));
    haplan_string_free(report);
    report = NULL;

    /* plan for one host: sql01 only fits on xs04. */
    char *plan = NULL;
    CHECK_RC(haplan_plan(demo, BUF("[\"xs01\"]"), NULL, 0, &plan, &err), HAPLAN_OK);
    REQUIRE(plan);
    CHECK(has(plan, "\"failed_hosts\":[\"xs01\"]"));
    CHECK(has(plan, "{\"vm\":\"sql01\",\"host\":\"xs04\""));
    CHECK(has(plan, "\"complete\":true"));
    haplan_string_free(plan);

    char *agility = NULL;
    CHECK_RC(haplan_agility(demo, &agility, &err), HAPLAN_OK);
    REQUIRE(agility);
    CHECK(has(agility, "sql01"));
    haplan_string_free(agility);

    /* what-if: xs04 leaves with its VMs; sql01 has nowhere to go if xs01 fails. */
    haplan_pool *changed = NULL;
    CHECK_RC(haplan_whatif(demo, BUF("[{\"op\": \"remove_host\", \"name\": \"xs04\", \"vms\": \"remove\"}]"),
                           NULL, 0, &report, &changed, &err),
             HAPLAN_OK);
    REQUIRE(report && changed);
    CHECK(has(report, "\"changes\":[\"remove host xs04"));
    CHECK(has(report, "\"ok\":false"));
    haplan_string_free(report);
    report = NULL;

    /* diff: the changed pool against the fixture, with no regression allowed. */
    CHECK_RC(haplan_diff(demo, changed, BUF("{\"no_regress\": true}"), &report, &err), HAPLAN_OK);
    REQUIRE(report);
    CHECK(has(report, "\"ok\":false"));
    CHECK(has(report, "\"no_regress\":true"));
    CHECK(has(report, "\"hosts_removed\":[\"xs04\"]"));
    haplan_string_free(report);

    CHECK(err == NULL);
    haplan_pool_free(changed);
    haplan_pool_free(demo);
}

/* ---- the failover ---- */

#define QUEUE 128
#define ACTION 512

static char queue[QUEUE][ACTION];
static int qhead = 0, qlen = 0;
static uint64_t wake_at = 0;
static int fence_answered = 0, fences = 0, declared_down = 0, early_starts = 0;
static char started[16][32];
static int nstarted = 0;

/* Where each VM of fixtures/runtime/rack.json runs ("" nowhere), as the
 * hosts would list it. */
#define NVMS 9
static const char *vm_names[NVMS] = {"db", "app1", "web1", "batch", "scratch", "app2", "web2", "cache", "ci"};
static char vm_hosts[NVMS][32] = {"r1", "r1", "r1", "r1", "r1", "r2", "r2", "r3", "r4"};

static int vm_index(const char *vm) {
    for (int i = 0; i < NVMS; i++)
        if (!strcmp(vm_names[i], vm)) return i;
    return -1;
}

/* The JSON list of the VMs running on `host`. */
static void listing(const char *host, char *out, size_t size) {
    size_t n = (size_t)snprintf(out, size, "[");
    for (int i = 0; i < NVMS && n < size; i++)
        if (!strcmp(vm_hosts[i], host)) n += (size_t)snprintf(out + n, size - n, "%s\"%s\"", n > 1 ? "," : "", vm_names[i]);
    if (n < size) snprintf(out + n, size - n, "]");
}

/* Takes a runtime output: its actions into the queue, its wake_at, what
 * its notes say. Frees it. */
static void take(char *output) {
    REQUIRE(output);
    const char *p = strstr(output, "\"actions\":[");
    REQUIRE(p);
    p += strlen("\"actions\":[");
    /* Actions are flat objects: each ends at its first '}'. */
    while (*p == '{') {
        const char *end = strchr(p, '}');
        REQUIRE(end && (size_t)(end - p) + 2 < ACTION && qlen < QUEUE);
        char *slot = queue[(qhead + qlen) % QUEUE];
        memcpy(slot, p, (size_t)(end - p) + 1);
        slot[end - p + 1] = '\0';
        qlen++;
        if (has(slot, "\"type\":\"start_vm\"") && !fence_answered) early_starts++;
        p = end + 1;
        if (*p == ',') p++;
    }
    REQUIRE(*p == ']');
    uint64_t w = num(output, "wake_at", 0);
    if (w) wake_at = w;
    if (has(output, "{\"type\":\"host_declared_down\",\"host\":\"r1\"")) declared_down++;
    haplan_string_free(output);
}

static void feed(haplan_runtime *rt, const char *input) {
    char *output = NULL, *err = NULL;
    haplan_result rc = haplan_runtime_handle(rt, BUF(input), &output, &err);
    if (rc != HAPLAN_OK) {
        fprintf(stderr, "%s\n  -> %s %s\n", input, haplan_result_name(rc), err);
        exit(1);
    }
    REQUIRE(err == NULL);
    take(output);
}

static void failover(void) {
    haplan_pool *rack = load("fixtures/runtime/rack.json");
    haplan_runtime *rt = NULL;
    char *output = NULL, *err = NULL;
    CHECK_RC(haplan_runtime_new(rack, 0, &rt, &output, &err), HAPLAN_OK);
    REQUIRE(rt);
    /* The runtime has its own copy. */
    haplan_pool_free(rack);
    take(output);

    /* An answer whose id is in flight but names another host is refused
     * (HAPLAN_REFUSED) and changes nothing; the probe stays in flight. */
    {
        const char *probe = NULL;
        for (int i = 0; i < qlen && !probe; i++)
            if (has(queue[(qhead + i) % QUEUE], "\"type\":\"probe\"")) probe = queue[(qhead + i) % QUEUE];
        REQUIRE(probe);
        char other[32], wrong[256];
        str(probe, "host", other, sizeof other);
        snprintf(wrong, sizeof wrong,
                 "{\"at\": 1, \"event\": {\"type\": \"health_check\", \"id\": %" PRIu64
                 ", \"host\": \"%s\", \"ping\": true, \"api\": true}}",
                 num(probe, "id", 0), strcmp(other, "r1") ? "r1" : "r2");
        char *refused = NULL, *why = NULL;
        CHECK_RC(haplan_runtime_handle(rt, BUF(wrong), &refused, &why), HAPLAN_REFUSED);
        CHECK(refused == NULL && why != NULL);
        haplan_string_free(why);
    }

    /* r1 loses power at 10 s: its probes fail from then on, and its peers
     * cannot reach it either. */
    const uint64_t crash = 10000;
    uint64_t now = 0;
    char input[1024], type[32], host[32], vm[32], peer[32], vms[256];
    for (int step = 0; step < 5000 && now < 120000; step++) {
        if (qlen == 0) {
            now = wake_at > now ? wake_at : now + 1000;
            snprintf(input, sizeof input, "{\"at\": %" PRIu64 ", \"event\": {\"type\": \"tick\"}}", now);
            feed(rt, input);
            continue;
        }
        const char *a = queue[qhead];
        qhead = (qhead + 1) % QUEUE;
        qlen--;
        now += 50; /* every answer comes 50 ms later */
        uint64_t id = num(a, "id", 0);
        str(a, "type", type, sizeof type);
        str(a, "host", host, sizeof host);
        int down = now >= crash && strcmp(host, "r1") == 0;
        if (!strcmp(type, "probe")) {
            const char *ok = down ? "false" : "true";
            snprintf(input, sizeof input,
                     "{\"at\": %" PRIu64 ", \"event\": {\"type\": \"health_check\", \"id\": %" PRIu64
                     ", \"host\": \"%s\", \"ping\": %s, \"api\": %s}}",
                     now, id, host, ok, ok);
        } else if (!strcmp(type, "ask_peer")) {
            str(a, "peer", peer, sizeof peer);
            snprintf(input, sizeof input,
                     "{\"at\": %" PRIu64 ", \"event\": {\"type\": \"peer_check\", \"id\": %" PRIu64
                     ", \"host\": \"%s\", \"peer\": \"%s\", \"reachable\": %s}}",
                     now, id, host, peer, down ? "false" : "true");
        } else if (!strcmp(type, "fence")) {
            CHECK(!strcmp(host, "r1"));
            CHECK(has(a, "\"level\":0,\"agent\":\"fence_ipmilan\""));
            CHECK(!has(a, "secret")); /* credentials never leave the pool file */
            fences++;
            now += 2000;
            snprintf(input, sizeof input,
                     "{\"at\": %" PRIu64 ", \"event\": {\"type\": \"fence_result\", \"id\": %" PRIu64
                     ", \"host\": \"%s\", \"off\": true}}",
                     now, id, host);
            fence_answered = 1;
        } else if (!strcmp(type, "inventory")) {
            /* A host that lost power answers nothing (the core's deadline
             * applies); the others list what runs on them. */
            if (down) continue;
            listing(host, vms, sizeof vms);
            snprintf(input, sizeof input,
                     "{\"at\": %" PRIu64 ", \"event\": {\"type\": \"inventory\", \"id\": %" PRIu64
                     ", \"host\": \"%s\", \"vms\": %s}}",
                     now, id, host, vms);
        } else if (!strcmp(type, "stop_vm")) {
            /* Only a duplicate is ever stopped, and this run makes none. */
            fprintf(stderr, "unexpected stop %s\n", a);
            failures++;
            continue;
        } else if (!strcmp(type, "start_vm")) {
            str(a, "vm", vm, sizeof vm);
            CHECK(strcmp(host, "r1") != 0);
            REQUIRE(nstarted < 16);
            snprintf(started[nstarted++], sizeof started[0], "%s", vm);
            int v = vm_index(vm);
            REQUIRE(v >= 0);
            snprintf(vm_hosts[v], sizeof vm_hosts[v], "%s", host);
            snprintf(input, sizeof input,
                     "{\"at\": %" PRIu64 ", \"event\": {\"type\": \"vm_start_result\", \"id\": %" PRIu64
                     ", \"vm\": \"%s\", \"host\": \"%s\", \"ok\": true}}",
                     now, id, vm, host);
        } else {
            fprintf(stderr, "unexpected action %s\n", a);
            failures++;
            continue;
        }
        feed(rt, input);
    }

    CHECK(declared_down == 1);
    CHECK(fences == 1);
    CHECK(early_starts == 0); /* no start_vm before the fence confirmed r1 off */
    /* db first (order 0), then app1 and web1, the best-effort batch last;
     * the unprotected scratch never. */
    CHECK(nstarted == 4);
    CHECK(nstarted > 0 && !strcmp(started[0], "db"));
    int app1 = 0, web1 = 0, batch = 0, scratch = 0;
    for (int i = 0; i < nstarted; i++) {
        app1 += !strcmp(started[i], "app1");
        web1 += !strcmp(started[i], "web1");
        batch += !strcmp(started[i], "batch");
        scratch += !strcmp(started[i], "scratch");
    }
    CHECK(app1 == 1 && web1 == 1 && batch == 1 && scratch == 0);
    CHECK(nstarted == 4 && !strcmp(started[3], "batch"));

    /* Admission: nothing changes, whatever the verdict. */
    char *admission = NULL;
    CHECK_RC(haplan_runtime_check_operation(rt, BUF("{\"op\": \"set_tolerance\", \"k\": 1}"), &admission, &err),
             HAPLAN_OK);
    REQUIRE(admission);
    CHECK(has(admission, "{\"verdict\":\"allowed\""));
    haplan_string_free(admission);
    admission = NULL;
    CHECK_RC(haplan_runtime_check_operation(rt, BUF("{\"op\": \"set_tolerance\", \"k\": 3}"), &admission, &err),
             HAPLAN_OK);
    REQUIRE(admission);
    CHECK(has(admission, "{\"verdict\":\"would_overcommit\""));
    haplan_string_free(admission);

    char *state = NULL;
    CHECK_RC(haplan_runtime_state_json(rt, &state, &err), HAPLAN_OK);
    REQUIRE(state);
    CHECK(has(state, "\"r1\""));
    CHECK(!has(state, "r1-secret"));
    haplan_string_free(state);

    CHECK(err == NULL);
    haplan_runtime_free(rt);
}

int main(int argc, char **argv) {
    REQUIRE(argc == 2);
    root = argv[1];
    printf("haplan %s\n", haplan_version());
    queries();
    failover();
    if (failures) {
        fprintf(stderr, "smoke: %d check(s) failed\n", failures);
        return 1;
    }
    printf("smoke: ok (r1 fenced once, then %d restarts: %s, %s, %s, %s)\n", nstarted, started[0], started[1],
           started[2], started[3]);
    return 0;
}
