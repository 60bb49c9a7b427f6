/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compiled by tests/c_abi.rs as C11 (gcc) and as C++17 (g++ -x c++), both with
 * -Wall -Wextra -Werror, and linked against libsysflow.a. Prints the layout of every type
 * of the header ("sizeof T N", "alignof T N", "offsetof T.f N") for the test to compare with
 * the Rust definitions, then makes a few calls.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sysflow.h>

#ifdef __cplusplus
#define ALIGNOF(t) alignof(t)
static_assert(sizeof(sysflow_status) == 4, "sysflow_status is an int32_t");
static_assert(offsetof(sysflow_config, struct_size) == 0, "struct_size comes first");
#else
#define ALIGNOF(t) _Alignof(t)
_Static_assert(sizeof(sysflow_status) == 4, "sysflow_status is an int32_t");
_Static_assert(offsetof(sysflow_config, struct_size) == 0, "struct_size comes first");
#endif

#define TYPE(t) printf("sizeof " #t " %zu\nalignof " #t " %zu\n", sizeof(t), (size_t)ALIGNOF(t))
#define FIELD(t, f) printf("offsetof " #t "." #f " %zu\n", offsetof(t, f))

/* A callback with exactly the typedef's signature. */
static void on_record(void *userdata, const sysflow_header *hdr, const sysflow_container *cont,
                      const sysflow_process *proc, const sysflow_file *file1,
                      const sysflow_file *file2, const sysflow_record *rec) {
    (void)userdata, (void)cont, (void)proc, (void)file1, (void)file2, (void)rec;
    printf("%" SYSFLOW_STR_FMT "\n", SYSFLOW_STR_ARG(hdr->exporter));
}

int main(void) {
    TYPE(sysflow_status);
    TYPE(sysflow_config);
    TYPE(sysflow_str);
    TYPE(sysflow_str_array);
    TYPE(sysflow_oid);
    TYPE(sysflow_foid);
    TYPE(sysflow_header);
    TYPE(sysflow_container);
    TYPE(sysflow_process);
    TYPE(sysflow_file);
    TYPE(sysflow_process_event);
    TYPE(sysflow_file_event);
    TYPE(sysflow_network_event);
    TYPE(sysflow_file_flow);
    TYPE(sysflow_network_flow);
    TYPE(sysflow_process_flow);
    TYPE(sysflow_record_data);
    TYPE(sysflow_record);
    TYPE(sysflow_record_cb);

    FIELD(sysflow_config, struct_size);
    FIELD(sysflow_config, filter_containers);
    FIELD(sysflow_config, rotate_interval);
    FIELD(sysflow_config, exporter_id);
    FIELD(sysflow_config, node_ip);
    FIELD(sysflow_config, file_path);
    FIELD(sysflow_config, socket_path);
    FIELD(sysflow_config, scap_input_path);
    FIELD(sysflow_config, falco_filter);
    FIELD(sysflow_config, sampling_ratio);
    FIELD(sysflow_config, cri_path);
    FIELD(sysflow_config, cri_timeout_ms);
    FIELD(sysflow_config, enable_stats);
    FIELD(sysflow_config, enable_process_flow);
    FIELD(sysflow_config, file_only);
    FIELD(sysflow_config, file_read_mode);
    FIELD(sysflow_config, drop_mode);
    FIELD(sysflow_config, callback);
    FIELD(sysflow_config, userdata);
    FIELD(sysflow_config, debug_mode);
    FIELD(sysflow_config, k8s_api_url);
    FIELD(sysflow_config, k8s_api_cert);
    FIELD(sysflow_config, module_checks);
    FIELD(sysflow_config, collection_mode);
    FIELD(sysflow_config, app_name);
    FIELD(sysflow_config, single_buffer_dimension);
    FIELD(sysflow_config, file_codec);
    FIELD(sysflow_config, file_codec_level);
    FIELD(sysflow_config, rotate_offline);
    FIELD(sysflow_config, env_overrides);
    FIELD(sysflow_config, host_root);
    FIELD(sysflow_config, docker_path);
    FIELD(sysflow_config, container_metadata);
    FIELD(sysflow_config, file_mode);
    FIELD(sysflow_config, file_overwrite);
    FIELD(sysflow_config, socket_reader_uid);
    FIELD(sysflow_process, env);
    FIELD(sysflow_process, container_id);
    FIELD(sysflow_file_event, new_file_oid);
    FIELD(sysflow_network_flow, num_w_send_bytes);
    FIELD(sysflow_record, data);

    sysflow_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (sysflow_config_init(&cfg) != SYSFLOW_STATUS_OK || cfg.struct_size != sizeof cfg)
        return 1;
    cfg.callback = on_record;
    cfg.file_read_mode = SYSFLOW_FILE_READ_MODE_ALL;
    cfg.collection_mode = SYSFLOW_COLLECTION_MODE_FLOW;
    cfg.file_codec = SYSFLOW_CODEC_DEFLATE;
    sysflow_driver *drv = NULL;
    sysflow_status st = sysflow_driver_new(&cfg, &drv);
    printf("new %d %s\n", (int)st, sysflow_status_str(st));
    sysflow_driver_free(drv);
    printf("version %s\n", sysflow_version());
    return st == SYSFLOW_STATUS_OK ? 0 : 2;
}
