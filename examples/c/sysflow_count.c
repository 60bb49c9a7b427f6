/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sysflow_count: counts SysFlow records per type through the sysflow C API.
 *
 *     sysflow_count TRACE.scap    convert a scap capture and count its records
 *     sysflow_count               capture live (root) until SIGINT or SIGTERM
 *
 * Live, it says "sysflow_count: capturing" on standard error once the capture takes
 * events in (a script starts the work it wants captured after that line).
 *
 * Prints one "<RecordType> <count>" line per event/flow type, then "total <count>".
 * Exit status: 0 on success, 1 on usage errors, 2 when the library reports an error
 * (the message names the failing call, the status and the library's detail).
 */
#define _POSIX_C_SOURCE 200809L /* sigaction, nanosleep */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sysflow.h>

/* Record kinds are the SysFlow union branch indices; events and flows are 4..9, and
 * Kubernetes events (with k8s_api_url; headers from 0.4 on) are 11. */
#define KIND_MIN SYSFLOW_RECORD_PROCESS_EVENT
#ifdef SYSFLOW_RECORD_K8S_EVENT
#define KIND_MAX SYSFLOW_RECORD_K8S_EVENT
#else
#define KIND_MAX SYSFLOW_RECORD_PROCESS_FLOW
#endif

struct counts {
    unsigned long long by_kind[KIND_MAX + 1];
    unsigned long long unknown;
    unsigned long long total;
    /* A checksum over every string byte, so each borrowed view is actually read (under
     * AddressSanitizer this checks that the views point to live memory). */
    unsigned long long checksum;
};

/* The driver the signal handler stops. sysflow_driver_exit is async-signal-safe. */
static _Atomic(sysflow_driver *) g_driver;

static void on_signal(int sig) {
    (void)sig;
    sysflow_driver *drv = atomic_load(&g_driver);
    if (drv != NULL)
        sysflow_driver_exit(drv);
}

/* Headers from 0.4 on declare sysflow_driver_is_capturing (and the Kubernetes record
 * kind); built against an older header, the program says nothing when it captures. */
#ifdef SYSFLOW_RECORD_K8S_EVENT
#define HAVE_IS_CAPTURING 1
#endif

#ifdef HAVE_IS_CAPTURING
/* Set once sysflow_driver_run returned: the announcer stops waiting. */
static atomic_bool g_run_done;

/* Live capture: says on standard error when the capture takes events in.
 * sysflow_driver_is_capturing is an atomic load, callable while the run blocks. */
static void *announce_capturing(void *arg) {
    const sysflow_driver *drv = arg;
    const struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    while (!atomic_load(&g_run_done)) {
        if (sysflow_driver_is_capturing(drv)) {
            fprintf(stderr, "sysflow_count: capturing\n");
            break;
        }
        nanosleep(&pause, NULL);
    }
    return NULL;
}
#endif

static void touch(struct counts *c, sysflow_str s) {
    for (size_t i = 0; i < s.len; i++)
        c->checksum += (unsigned char)s.ptr[i];
}

static void touch_array(struct counts *c, sysflow_str_array a) {
    for (size_t i = 0; i < a.len; i++)
        touch(c, a.items[i]);
}

static void touch_file(struct counts *c, const sysflow_file *f) {
    if (f == NULL)
        return;
    touch(c, f->path);
    touch(c, f->container_id);
}

/* The record callback: everything it receives is borrowed until it returns. */
static void on_record(void *userdata, const sysflow_header *hdr, const sysflow_container *cont,
                      const sysflow_process *proc, const sysflow_file *file1,
                      const sysflow_file *file2, const sysflow_record *rec) {
    struct counts *c = userdata;
    c->total++;
    if (rec->kind >= KIND_MIN && rec->kind <= KIND_MAX)
        c->by_kind[rec->kind]++;
    else
        c->unknown++;

    touch(c, hdr->exporter);
    touch(c, hdr->filename);
    if (cont != NULL) {
        touch(c, cont->id);
        touch(c, cont->image);
    }
    if (proc != NULL) {
        touch(c, proc->exe);
        touch(c, proc->exe_args);
        touch(c, proc->user_name);
        touch(c, proc->cwd);
        touch_array(c, proc->env);
    }
    touch_file(c, file1);
    touch_file(c, file2);
    if (rec->kind == SYSFLOW_RECORD_PROCESS_EVENT)
        touch_array(c, rec->data.process_event.args);
#ifdef SYSFLOW_RECORD_K8S_EVENT
    if (rec->kind == SYSFLOW_RECORD_K8S_EVENT)
        touch(c, rec->data.k8s_event.message);
#endif
}

static int fail(const char *what, sysflow_status st) {
    char detail[1024];
    size_t n = sysflow_last_error(detail, sizeof detail);
    fprintf(stderr, "sysflow_count: %s failed: status %d (%s): %s%s\n", what, (int)st,
            sysflow_status_str(st), detail, n >= sizeof detail ? "..." : "");
    return 2;
}

int main(int argc, char **argv) {
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: %s [TRACE.scap]\n"
                        "  with a capture: count its records; without: capture live until "
                        "SIGINT/SIGTERM\n",
                argv[0]);
        return 1;
    }

    struct counts counts;
    memset(&counts, 0, sizeof counts);

    sysflow_config cfg;
    sysflow_status st = sysflow_config_init(&cfg);
    if (st != SYSFLOW_STATUS_OK)
        return fail("sysflow_config_init", st);
    cfg.scap_input_path = argc == 2 ? argv[1] : NULL;
    cfg.callback = on_record;
    cfg.userdata = &counts;

    sysflow_driver *drv = NULL;
    st = sysflow_driver_new(&cfg, &drv);
    if (st != SYSFLOW_STATUS_OK)
        return fail("sysflow_driver_new", st);

    atomic_store(&g_driver, drv);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

#ifdef HAVE_IS_CAPTURING
    pthread_t announcer;
    int announcing = cfg.scap_input_path == NULL &&
                     pthread_create(&announcer, NULL, announce_capturing, drv) == 0;
#endif

    st = sysflow_driver_run(drv); /* blocks; the callback runs on this thread */

#ifdef HAVE_IS_CAPTURING
    atomic_store(&g_run_done, true);
    if (announcing)
        pthread_join(announcer, NULL);
#endif
    atomic_store(&g_driver, NULL);
    sysflow_driver_free(drv);
    if (st != SYSFLOW_STATUS_OK)
        return fail("sysflow_driver_run", st);

    static const char *const names[KIND_MAX + 1] = {
        [SYSFLOW_RECORD_PROCESS_EVENT] = "ProcessEvent", [SYSFLOW_RECORD_NETWORK_FLOW] = "NetworkFlow",
        [SYSFLOW_RECORD_FILE_FLOW] = "FileFlow",         [SYSFLOW_RECORD_FILE_EVENT] = "FileEvent",
        [SYSFLOW_RECORD_NETWORK_EVENT] = "NetworkEvent", [SYSFLOW_RECORD_PROCESS_FLOW] = "ProcessFlow",
#ifdef SYSFLOW_RECORD_K8S_EVENT
        [SYSFLOW_RECORD_K8S_EVENT] = "K8sEvent",
#endif
    };
    for (int k = KIND_MIN; k <= KIND_MAX; k++) {
        if (names[k] == NULL)
            continue;
#ifdef SYSFLOW_RECORD_K8S_EVENT
        if (k == SYSFLOW_RECORD_K8S_EVENT && counts.by_kind[k] == 0)
            continue; /* only with k8s_api_url */
#endif
        printf("%s %llu\n", names[k], counts.by_kind[k]);
    }
    if (counts.unknown > 0)
        printf("unknown %llu\n", counts.unknown);
    printf("total %llu\n", counts.total);
    fprintf(stderr, "sysflow_count: sysflow %s, string checksum %llu\n", sysflow_version(),
            counts.checksum);
    return 0;
}
