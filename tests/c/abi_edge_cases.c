/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Misuse of the sysflow C API: every case must give a defined status, never a crash, a
 * sanitizer report or a leak. Built with -fsanitize=address,undefined (LeakSanitizer on)
 * and run by tests/c_abi.rs:
 *
 *     abi_edge_cases TRACE.scap    (a trace of more than 4096 events)
 *
 * Prints one "ok N - ..." / "not ok N - ..." line per check and exits with the number of
 * failed checks (0 = all passed).
 */
#define _POSIX_C_SOURCE 200809L /* sigaction */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sysflow.h>

static int checks, failures;

#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        checks++;                                                                                 \
        int ok_ = (cond);                                                                         \
        if (!ok_)                                                                                 \
            failures++;                                                                           \
        printf("%s %d - ", ok_ ? "ok" : "not ok", checks);                                        \
        printf(__VA_ARGS__);                                                                      \
        printf("\n");                                                                             \
        fflush(stdout);                                                                           \
    } while (0)

static const char *last_error(void) {
    static char buf[2048];
    sysflow_last_error(buf, sizeof buf);
    return buf;
}

#define CHECK_STATUS(expr, want, what)                                                            \
    do {                                                                                          \
        sysflow_status got_ = (expr);                                                             \
        CHECK(got_ == (want), "%s: status %d (%s), want %d [last error: %s]", what, (int)got_,    \
              sysflow_status_str(got_), (int)(want), last_error());                               \
    } while (0)

enum action {
    NOTHING,
    EXIT_AT_FIRST,
    RUN_FROM_CALLBACK,
    FREE_FROM_CALLBACK,
    BLOCK_AT_FIRST,
    SIGNAL_AT_FIRST,
};

struct state {
    enum action action;
    sysflow_driver *self;  /* the driver whose callback this is */
    sysflow_driver *other; /* an idle driver, for RUN_FROM_CALLBACK */
    unsigned long records;
    unsigned long bad_views;
    sysflow_status nested_self, nested_other, nested_new;
    /* BLOCK_AT_FIRST: the callback waits for the main thread. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int in_callback, release;
};

static int str_ok(sysflow_str s) { return s.ptr != NULL || s.len == 0; }

static void on_record(void *userdata, const sysflow_header *hdr, const sysflow_container *cont,
                      const sysflow_process *proc, const sysflow_file *file1,
                      const sysflow_file *file2, const sysflow_record *rec) {
    struct state *st = userdata;
    st->records++;
    if (hdr == NULL || rec == NULL || hdr->version != 5 || !str_ok(hdr->exporter) ||
        hdr->exporter.ptr == NULL || rec->kind < SYSFLOW_RECORD_PROCESS_EVENT ||
        rec->kind > SYSFLOW_RECORD_PROCESS_FLOW)
        st->bad_views++;
    if (cont != NULL && (cont->id.ptr == NULL || !str_ok(cont->pod_id)))
        st->bad_views++;
    if (proc != NULL) {
        if (proc->exe.ptr == NULL || proc->cwd.ptr == NULL || !str_ok(proc->container_id) ||
            (proc->env.len > 0 && proc->env.items == NULL))
            st->bad_views++;
        for (size_t i = 0; i < proc->env.len; i++)
            if (proc->env.items[i].ptr == NULL)
                st->bad_views++;
    }
    if (file1 != NULL && file1->path.ptr == NULL)
        st->bad_views++;
    if (file2 != NULL && (file1 == NULL || file2->path.ptr == NULL))
        st->bad_views++;

    if (st->records != 1)
        return;
    switch (st->action) {
    case NOTHING:
        break;
    case EXIT_AT_FIRST:
        sysflow_driver_exit(st->self);
        break;
    case RUN_FROM_CALLBACK: {
        st->nested_self = sysflow_driver_run(st->self);
        st->nested_other = sysflow_driver_run(st->other);
        /* Creating and freeing a driver inside a callback is allowed. */
        sysflow_config cfg;
        sysflow_config_init(&cfg);
        cfg.scap_input_path = "/nonexistent.scap";
        cfg.callback = on_record;
        sysflow_driver *d = NULL;
        st->nested_new = sysflow_driver_new(&cfg, &d);
        sysflow_driver_free(d);
        break;
    }
    case FREE_FROM_CALLBACK:
        sysflow_driver_free(st->self); /* deferred until sysflow_driver_run returns */
        break;
    case BLOCK_AT_FIRST:
        pthread_mutex_lock(&st->mu);
        st->in_callback = 1;
        pthread_cond_broadcast(&st->cv);
        while (!st->release)
            pthread_cond_wait(&st->cv, &st->mu);
        pthread_mutex_unlock(&st->mu);
        break;
    case SIGNAL_AT_FIRST:
        raise(SIGUSR1);
        break;
    }
}

static const char *trace;

static void base_config(sysflow_config *cfg, struct state *st) {
    sysflow_config_init(cfg);
    cfg->scap_input_path = trace;
    cfg->callback = on_record;
    cfg->userdata = st;
    cfg->env_overrides = false;
}

static void init_state(struct state *st, enum action action) {
    memset(st, 0, sizeof *st);
    st->action = action;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
}

static void fini_state(struct state *st) {
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
}

/* Creating with one changed field must fail with `want` and leave *out NULL. */
static void expect_new_fails(const sysflow_config *cfg, sysflow_status want, const char *what) {
    sysflow_driver *d = (sysflow_driver *)&checks; /* a non-NULL sentinel */
    CHECK_STATUS(sysflow_driver_new(cfg, &d), want, what);
    CHECK(d == NULL, "%s: *out is NULL after the failure", what);
    sysflow_driver_free(d);
}

static void null_arguments(void) {
    CHECK_STATUS(sysflow_config_init(NULL), SYSFLOW_STATUS_NULL_ARGUMENT, "config_init(NULL)");
    CHECK(strstr(last_error(), "cfg") != NULL, "the last error names the argument: %s",
          last_error());
    expect_new_fails(NULL, SYSFLOW_STATUS_NULL_ARGUMENT, "driver_new(NULL config)");
    struct state st;
    init_state(&st, NOTHING);
    sysflow_config cfg;
    base_config(&cfg, &st);
    CHECK_STATUS(sysflow_driver_new(&cfg, NULL), SYSFLOW_STATUS_NULL_ARGUMENT,
                 "driver_new(cfg, NULL out)");
    CHECK_STATUS(sysflow_driver_new(NULL, NULL), SYSFLOW_STATUS_NULL_ARGUMENT,
                 "driver_new(NULL, NULL)");
    CHECK_STATUS(sysflow_driver_run(NULL), SYSFLOW_STATUS_NULL_ARGUMENT, "driver_run(NULL)");
    CHECK_STATUS(sysflow_driver_exit(NULL), SYSFLOW_STATUS_NULL_ARGUMENT, "driver_exit(NULL)");
    CHECK(!sysflow_driver_is_capturing(NULL), "driver_is_capturing(NULL) is false");
    sysflow_driver_free(NULL);
    CHECK(1, "driver_free(NULL) is a no-op");
    fini_state(&st);
}

/* A filter that does not parse fails sysflow_driver_new with LibsError, and the last error
 * gives libsinsp's message with the position. */
static void bad_filter(void) {
    struct state st;
    init_state(&st, NOTHING);
    sysflow_config cfg;
    base_config(&cfg, &st);
    cfg.falco_filter = "(proc.name=bash";
    expect_new_fails(&cfg, SYSFLOW_STATUS_LIBS_ERROR, "unbalanced filter");
    CHECK(strstr(last_error(), "index 15, line 1, column 16: expected a ')' token") != NULL,
          "the filter error has its position: %s", last_error());
    cfg.falco_filter = "";
    expect_new_fails(&cfg, SYSFLOW_STATUS_LIBS_ERROR, "empty filter");
    fini_state(&st);
}

static void struct_sizes(void) {
    struct state st;
    init_state(&st, NOTHING);
    /* Room for a "newer" config, larger than this header's. */
    union {
        sysflow_config cfg;
        unsigned char bytes[sizeof(sysflow_config) + 64];
    } big;
    memset(&big, 0, sizeof big);
    base_config(&big.cfg, &st);
    CHECK(big.cfg.struct_size == sizeof(sysflow_config), "config_init sets struct_size (%zu)",
          big.cfg.struct_size);
    /* below the first released layout (0.1), or past this header's: refused (sizes in
     * between are older headers, whose missing fields take their defaults) */
    const size_t sizes[] = {0, 1, offsetof(sysflow_config, rotate_interval),
                            offsetof(sysflow_config, host_root) - 8,
                            sizeof(sysflow_config) + 8, sizeof(sysflow_config) + 64,
                            (size_t)-1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char what[96];
        snprintf(what, sizeof what, "struct_size %zu", sizes[i]);
        big.cfg.struct_size = sizes[i];
        expect_new_fails(&big.cfg, SYSFLOW_STATUS_UNKNOWN_STRUCT_SIZE, what);
    }
    fini_state(&st);
    /* the library's own sizes, for programs built against a newer header */
    const struct {
        int32_t which;
        size_t size;
        const char *name;
    } lib_sizes[] = {
        {SYSFLOW_STRUCT_HEADER, sizeof(sysflow_header), "header"},
        {SYSFLOW_STRUCT_CONTAINER, sizeof(sysflow_container), "container"},
        {SYSFLOW_STRUCT_POD, sizeof(sysflow_pod), "pod"},
        {SYSFLOW_STRUCT_PROCESS, sizeof(sysflow_process), "process"},
        {SYSFLOW_STRUCT_FILE, sizeof(sysflow_file), "file"},
        {SYSFLOW_STRUCT_PROCESS_EVENT, sizeof(sysflow_process_event), "process_event"},
        {SYSFLOW_STRUCT_FILE_EVENT, sizeof(sysflow_file_event), "file_event"},
        {SYSFLOW_STRUCT_NETWORK_EVENT, sizeof(sysflow_network_event), "network_event"},
        {SYSFLOW_STRUCT_FILE_FLOW, sizeof(sysflow_file_flow), "file_flow"},
        {SYSFLOW_STRUCT_NETWORK_FLOW, sizeof(sysflow_network_flow), "network_flow"},
        {SYSFLOW_STRUCT_PROCESS_FLOW, sizeof(sysflow_process_flow), "process_flow"},
        {SYSFLOW_STRUCT_RECORD, sizeof(sysflow_record), "record"},
        {SYSFLOW_STRUCT_CONFIG, sizeof(sysflow_config), "config"},
        {SYSFLOW_STRUCT_STATS, sizeof(sysflow_stats), "stats"},
        {SYSFLOW_STRUCT_K8S_EVENT, sizeof(sysflow_k8s_event), "k8s_event"},
    };
    for (size_t i = 0; i < sizeof lib_sizes / sizeof lib_sizes[0]; i++)
        CHECK(sysflow_struct_size(lib_sizes[i].which) == lib_sizes[i].size,
              "sysflow_struct_size(%s) is sizeof (%zu)", lib_sizes[i].name, lib_sizes[i].size);
    CHECK(sysflow_struct_size(0) == 0 && sysflow_struct_size(1000) == 0,
          "sysflow_struct_size of an unknown struct is 0");
}

static void bad_strings_and_values(void) {
    struct state st;
    init_state(&st, NOTHING);
    sysflow_config cfg;
    static const char bad_utf8[] = "caf\xc3\x28 \xff";

    base_config(&cfg, &st);
    cfg.exporter_id = bad_utf8;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_UTF8, "non-UTF-8 exporter_id");
    CHECK(strstr(last_error(), "exporter_id") != NULL, "the last error names the field: %s",
          last_error());
    base_config(&cfg, &st);
    cfg.node_ip = bad_utf8;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_UTF8, "non-UTF-8 node_ip");
    base_config(&cfg, &st);
    cfg.app_name = bad_utf8;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_UTF8, "non-UTF-8 app_name");
    base_config(&cfg, &st);
    cfg.falco_filter = bad_utf8;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_UTF8, "non-UTF-8 falco_filter");
    base_config(&cfg, &st);
    cfg.k8s_api_url = bad_utf8;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_UTF8, "non-UTF-8 k8s_api_url");

    /* Paths are bytes: a non-UTF-8 path is accepted, and a missing file fails the run. */
    base_config(&cfg, &st);
    cfg.scap_input_path = "/nonexistent/\xff\xfe.scap";
    sysflow_driver *d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "non-UTF-8 scap path: new");
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_ERROR_READING_FILE_SYSTEM,
                 "non-UTF-8 missing scap path: run");
    CHECK(strstr(last_error(), "/nonexistent/") != NULL, "the last error names the path: %s",
          last_error());
    sysflow_driver_free(d);

    base_config(&cfg, &st);
    cfg.callback = NULL;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_CONFIG, "no output configured");
    CHECK(strstr(last_error(), "no output") != NULL, "the last error says why: %s",
          last_error());
    base_config(&cfg, &st);
    cfg.collection_mode = 42;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_CONFIG, "collection_mode 42");
    base_config(&cfg, &st);
    cfg.file_read_mode = -1;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_CONFIG, "file_read_mode -1");
    base_config(&cfg, &st);
    cfg.file_codec = 9;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_CONFIG, "file_codec 9");
    base_config(&cfg, &st);
    cfg.file_codec_level = 13;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_CONFIG, "deflate level 13");
    base_config(&cfg, &st);
    cfg.sampling_ratio = 0;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_CONFIG, "sampling_ratio 0");
    base_config(&cfg, &st);
    cfg.single_buffer_dimension = 1000;
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_CONFIG, "single_buffer_dimension 1000");
    base_config(&cfg, &st);
    cfg.file_path = "/nonexistent-dir/out.sf";
    expect_new_fails(&cfg, SYSFLOW_STATUS_IO, "unwritable file_path");
    base_config(&cfg, &st);
    cfg.file_path = "";
    expect_new_fails(&cfg, SYSFLOW_STATUS_INVALID_CONFIG, "empty file_path");

    /* A bool byte that is neither 0 nor 1 (memset) is read as true, not trusted. */
    base_config(&cfg, &st);
    memset(&cfg.drop_mode, 0xff, 1);
    d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "bool byte 0xff");
    sysflow_driver_free(d);
    fini_state(&st);
}

static unsigned long full_run(void) {
    struct state st;
    init_state(&st, NOTHING);
    sysflow_config cfg;
    base_config(&cfg, &st);
    sysflow_driver *d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new");
    st.self = d;
    sysflow_stats stats;
    memset(&stats, 0xff, sizeof stats);
    stats.struct_size = sizeof stats;
    CHECK_STATUS(sysflow_driver_stats(d, &stats), SYSFLOW_STATUS_OK, "stats before the run");
    CHECK(stats.events == 0 && stats.records == 0 && stats.sink_drops == 0,
          "stats before the run are zero");
    CHECK_STATUS(sysflow_driver_stats(NULL, &stats), SYSFLOW_STATUS_NULL_ARGUMENT,
                 "stats(NULL driver)");
    CHECK_STATUS(sysflow_driver_stats(d, NULL), SYSFLOW_STATUS_NULL_ARGUMENT, "stats(NULL out)");
    stats.struct_size = 8;
    CHECK_STATUS(sysflow_driver_stats(d, &stats), SYSFLOW_STATUS_UNKNOWN_STRUCT_SIZE,
                 "stats with a struct_size below the first layout");
    {
        /* a program built when sysflow_stats ended with invalid_events */
        size_t first = offsetof(sysflow_stats, invalid_events) + sizeof stats.invalid_events;
        memset(&stats, 0xab, sizeof stats);
        stats.struct_size = first;
        CHECK_STATUS(sysflow_driver_stats(d, &stats), SYSFLOW_STATUS_OK,
                     "stats with the first layout's size");
        CHECK(stats.events == 0 && stats.invalid_events == 0 &&
                  ((unsigned char *)&stats)[first] == 0xab,
              "the first layout's fields are written, nothing past them");
    }
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_OK, "run");
    CHECK(st.records > 0, "the callback received %lu records", st.records);
    /* a caller built against a newer header: the bytes past this header's struct are left
     * alone */
    union {
        sysflow_stats s;
        unsigned char bytes[sizeof(sysflow_stats) + 16];
    } big;
    memset(&big, 0xab, sizeof big);
    big.s.struct_size = sizeof big;
    CHECK_STATUS(sysflow_driver_stats(d, &big.s), SYSFLOW_STATUS_OK, "stats after the run");
    CHECK(big.s.struct_size == sizeof big && big.bytes[sizeof(sysflow_stats)] == 0xab &&
              big.bytes[sizeof big - 1] == 0xab,
          "only this header's fields are written");
    /* every record the callback got, headers aside, is counted; a conversion loses none */
    CHECK(big.s.events > 0 && big.s.records >= st.records && big.s.sink_drops == 0 &&
              big.s.ring_drops == 0 && big.s.sampled_out == 0 && big.s.decode_errors == 0 &&
              big.s.input_errors == 0,
          "stats after the run: %llu events, %llu records, %llu dropped",
          (unsigned long long)big.s.events, (unsigned long long)big.s.records,
          (unsigned long long)big.s.sink_drops);
    CHECK(st.bad_views == 0, "every view is well-formed (%lu bad)", st.bad_views);
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_ALREADY_RAN, "second run");
    CHECK_STATUS(sysflow_driver_exit(d), SYSFLOW_STATUS_OK, "exit after the run");
    sysflow_driver_free(d);
    fini_state(&st);
    return st.records;
}

static void exit_before_run(void) {
    struct state st;
    init_state(&st, NOTHING);
    sysflow_config cfg;
    base_config(&cfg, &st);
    sysflow_driver *d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new");
    CHECK_STATUS(sysflow_driver_exit(d), SYSFLOW_STATUS_OK, "exit before run");
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_OK, "run after exit");
    CHECK(st.records == 0, "a run after exit delivers nothing (%lu records)", st.records);
    sysflow_driver_free(d);
    fini_state(&st);
}

static void exit_from_callback(unsigned long full) {
    struct state st;
    init_state(&st, EXIT_AT_FIRST);
    sysflow_config cfg;
    base_config(&cfg, &st);
    sysflow_driver *d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new");
    st.self = d;
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_OK, "run with exit from the callback");
    /* The trace is long (> 4096 events): the exit cuts it short. */
    CHECK(st.records >= 1 && st.records < full,
          "the run stopped early and cleanly: %lu records (full run: %lu)", st.records, full);
    CHECK(st.bad_views == 0, "views stay well-formed after exit");
    sysflow_driver_free(d);
    fini_state(&st);
}

static void run_from_callback(void) {
    struct state st;
    init_state(&st, RUN_FROM_CALLBACK);
    sysflow_config cfg;
    base_config(&cfg, &st);
    sysflow_driver *d = NULL, *other = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new");
    CHECK_STATUS(sysflow_driver_new(&cfg, &other), SYSFLOW_STATUS_OK, "new (other)");
    st.self = d;
    st.other = other;
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_OK, "outer run");
    CHECK_STATUS(st.nested_self, SYSFLOW_STATUS_IN_CALLBACK, "run of itself from its callback");
    CHECK_STATUS(st.nested_other, SYSFLOW_STATUS_IN_CALLBACK,
                 "run of another driver from a callback");
    CHECK_STATUS(st.nested_new, SYSFLOW_STATUS_OK, "new + free inside a callback");
    /* The refused nested run did not consume the other driver (it delivers to `st` too). */
    unsigned long before = st.records;
    st.action = NOTHING;
    CHECK_STATUS(sysflow_driver_run(other), SYSFLOW_STATUS_OK,
                 "the other driver still runs afterwards");
    CHECK(st.records > before, "and delivers records");
    sysflow_driver_free(other);
    sysflow_driver_free(d);
    fini_state(&st);
}

static void free_from_callback(void) {
    struct state st;
    init_state(&st, FREE_FROM_CALLBACK);
    sysflow_config cfg;
    base_config(&cfg, &st);
    sysflow_driver *d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new");
    st.self = d;
    /* The driver is released when this returns (LeakSanitizer checks it is). */
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_OK, "run with free from the callback");
    CHECK(st.records >= 1, "records were delivered (%lu)", st.records);
    fini_state(&st);
}

static void *run_thread(void *arg) {
    struct state *st = arg;
    sysflow_status *result = malloc(sizeof *result);
    *result = sysflow_driver_run(st->self);
    return result;
}

static void concurrent_run_and_exit(void) {
    struct state st;
    init_state(&st, BLOCK_AT_FIRST);
    sysflow_config cfg;
    base_config(&cfg, &st);
    sysflow_driver *d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new");
    st.self = d;
    CHECK(!sysflow_driver_is_capturing(d), "not capturing before the run");
    pthread_t t;
    pthread_create(&t, NULL, run_thread, &st);
    pthread_mutex_lock(&st.mu);
    while (!st.in_callback)
        pthread_cond_wait(&st.cv, &st.mu);
    pthread_mutex_unlock(&st.mu);
    CHECK(sysflow_driver_is_capturing(d), "capturing while its callback runs");
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_ALREADY_RUNNING,
                 "run while another thread runs it");
    CHECK_STATUS(sysflow_driver_exit(d), SYSFLOW_STATUS_OK, "exit from another thread");
    pthread_mutex_lock(&st.mu);
    st.release = 1;
    pthread_cond_broadcast(&st.cv);
    pthread_mutex_unlock(&st.mu);
    void *ret = NULL;
    pthread_join(t, &ret);
    CHECK_STATUS(*(sysflow_status *)ret, SYSFLOW_STATUS_OK, "the running thread stops cleanly");
    CHECK(!sysflow_driver_is_capturing(d), "not capturing after the run returned");
    free(ret);
    sysflow_driver_free(d);
    fini_state(&st);
}

static _Atomic(sysflow_driver *) g_driver;
static void on_sigusr1(int sig) {
    (void)sig;
    sysflow_driver_exit(atomic_load(&g_driver));
}

static void exit_from_signal_handler(unsigned long full) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    struct state st;
    init_state(&st, SIGNAL_AT_FIRST);
    sysflow_config cfg;
    base_config(&cfg, &st);
    sysflow_driver *d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new");
    atomic_store(&g_driver, d);
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_OK, "run stopped by a signal handler");
    CHECK(st.records >= 1 && st.records < full, "stopped early: %lu records (full run: %lu)",
          st.records, full);
    atomic_store(&g_driver, NULL);
    sysflow_driver_free(d);
    signal(SIGUSR1, SIG_DFL);
    fini_state(&st);
}

static void error_reporting(void) {
    sysflow_config_init(NULL);
    size_t n = sysflow_last_error(NULL, 0);
    CHECK(n > 8, "last_error(NULL, 0) gives the length (%zu)", n);
    char small[8];
    memset(small, 'x', sizeof small);
    size_t m = sysflow_last_error(small, sizeof small);
    CHECK(m == n && small[7] == '\0' && strlen(small) == 7,
          "a short buffer gets a NUL-terminated prefix and the full length");
    char one[1] = {'x'};
    CHECK(sysflow_last_error(one, 1) == n && one[0] == '\0', "a 1-byte buffer gets \"\"");
    sysflow_config cfg;
    sysflow_config_init(&cfg);
    CHECK(sysflow_last_error(NULL, 0) == 0, "a successful call clears the last error");

    const int known[] = {0, 1, 2, 3, 4, 5, 6, 7, 100, 101, 102, 103, 104, 105, 106,
                         107, 108, 109, 110, 111, 112};
    int all_named = 1;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *s = sysflow_status_str((sysflow_status)known[i]);
        if (s == NULL || strcmp(s, "unknown status") == 0)
            all_named = 0;
    }
    CHECK(all_named, "every defined status has a description");
    const int unknown[] = {-1, 8, 99, 113, 1000000};
    int all_unknown = 1;
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = sysflow_status_str((sysflow_status)unknown[i]);
        if (s == NULL || strcmp(s, "unknown status") != 0)
            all_unknown = 0;
    }
    CHECK(all_unknown, "undefined statuses are \"unknown status\"");
    unsigned a, b, c;
    CHECK(sysflow_version() != NULL && sscanf(sysflow_version(), "%u.%u.%u", &a, &b, &c) == 3,
          "sysflow_version() is MAJOR.MINOR.PATCH: %s", sysflow_version());
}

/* Log lines reach a C callback: the driver's under its app_name, stats lines at info
 * level, debug lines only with debug_mode. */
struct log_count {
    pthread_mutex_t mu;
    unsigned long stats, losses, debug, other_target;
};

static void on_log(int32_t level, const char *target, const char *message, void *user) {
    struct log_count *c = user;
    pthread_mutex_lock(&c->mu);
    if (strcmp(target, "c-logs") != 0)
        c->other_target++;
    else if (level == SYSFLOW_LOG_INFO && strncmp(message, "Container Table: ", 17) == 0)
        c->stats++;
    else if (level == SYSFLOW_LOG_INFO && strncmp(message, "Events: ", 8) == 0)
        c->losses++;
    else if (level == SYSFLOW_LOG_DEBUG)
        c->debug++;
    pthread_mutex_unlock(&c->mu);
}

static void log_callback(void) {
    struct log_count c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.mu, NULL);
    CHECK_STATUS(sysflow_set_log_callback(on_log, &c, 42), SYSFLOW_STATUS_INVALID_CONFIG,
                 "log level 42");
    CHECK_STATUS(sysflow_set_log_callback(on_log, &c, SYSFLOW_LOG_INFO), SYSFLOW_STATUS_OK,
                 "set the log callback (info)");
    struct state st;
    init_state(&st, NOTHING);
    sysflow_config cfg;
    base_config(&cfg, &st);
    cfg.enable_stats = true;
    cfg.debug_mode = true;
    cfg.app_name = "c-logs";
    sysflow_driver *d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new (stats, debug)");
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_OK, "run (stats, debug)");
    sysflow_driver_free(d);
    CHECK(c.stats == 1 && c.losses == 1 && c.debug == 0,
          "info level: 1 stats line, 1 loss line, no debug line (%lu, %lu, %lu)", c.stats,
          c.losses, c.debug);
    CHECK_STATUS(sysflow_set_log_callback(on_log, &c, SYSFLOW_LOG_DEBUG), SYSFLOW_STATUS_OK,
                 "set the log callback (debug)");
    d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new (stats, debug) again");
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_OK, "run (stats, debug) again");
    sysflow_driver_free(d);
    CHECK(c.stats == 2 && c.debug >= 2, "debug level: debug lines arrive (%lu)", c.debug);
    CHECK_STATUS(sysflow_set_log_callback(NULL, NULL, SYSFLOW_LOG_DEBUG), SYSFLOW_STATUS_OK,
                 "remove the log callback");
    unsigned long before = c.stats + c.losses + c.debug + c.other_target;
    base_config(&cfg, &st);
    cfg.enable_stats = true; /* lines that would reach the callback if it were still set */
    cfg.app_name = "c-logs";
    d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new without a callback");
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_OK, "run without a callback");
    sysflow_driver_free(d);
    CHECK(c.stats + c.losses + c.debug + c.other_target == before,
          "no line after the callback was removed");
    fini_state(&st);
    pthread_mutex_destroy(&c.mu);
}

/* A conversion cut short by a truncated capture: its records are delivered, the run
 * fails with EVENT_PARSING_ERROR, and the stats still count what it did, the damage
 * included (input_errors 1). */
static void truncated_run(unsigned long full) {
    FILE *in = fopen(trace, "rb");
    CHECK(in != NULL, "open %s", trace);
    if (in == NULL) return;
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    rewind(in);
    char *bytes = size > 0 ? malloc((size_t)size) : NULL;
    int read_ok = bytes != NULL && fread(bytes, 1, (size_t)size, in) == (size_t)size;
    CHECK(read_ok, "read %s", trace);
    fclose(in);
    if (!read_ok) {
        free(bytes);
        return;
    }
    char path[] = "/tmp/sysflow-abi-cut-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd < 0) {
        free(bytes);
        return;
    }
    /* cut in the middle of an event block, well past the capture's own header */
    size_t cut = (size_t)size / 2 + 3;
    CHECK(write(fd, bytes, cut) == (ssize_t)cut, "write the cut capture");
    close(fd);
    free(bytes);

    struct state st;
    init_state(&st, NOTHING);
    sysflow_config cfg;
    base_config(&cfg, &st);
    cfg.scap_input_path = path;
    sysflow_driver *d = NULL;
    CHECK_STATUS(sysflow_driver_new(&cfg, &d), SYSFLOW_STATUS_OK, "new (cut capture)");
    CHECK_STATUS(sysflow_driver_run(d), SYSFLOW_STATUS_EVENT_PARSING_ERROR, "run (cut capture)");
    sysflow_stats stats;
    memset(&stats, 0xff, sizeof stats);
    stats.struct_size = sizeof stats;
    CHECK_STATUS(sysflow_driver_stats(d, &stats), SYSFLOW_STATUS_OK, "stats after a failed run");
    CHECK(stats.input_errors == 1, "a cut capture counts one input error (%llu)",
          (unsigned long long)stats.input_errors);
    CHECK(st.records > 0 && st.records < full && stats.records >= st.records && stats.events > 0,
          "a failed run's stats count what it delivered: %lu of %lu records, %llu counted",
          st.records, full, (unsigned long long)stats.records);
    sysflow_driver_free(d);
    fini_state(&st);
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s TRACE.scap\n", argv[0]);
        return 100;
    }
    trace = argv[1];
    null_arguments();
    bad_filter();
    struct_sizes();
    bad_strings_and_values();
    unsigned long full = full_run();
    exit_before_run();
    truncated_run(full);
    exit_from_callback(full);
    run_from_callback();
    free_from_callback();
    concurrent_run_and_exit();
    exit_from_signal_handler(full);
    error_reporting();
    log_callback();
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures > 100 ? 100 : failures;
}
