// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor of a syscall probe on this platform, for benchmarks only: a tp_btf/sys_exit
 * program that returns at once. Attaching any program to sys_exit sends every syscall of
 * every task through the kernel's syscall-exit tracing path and into the BPF trampoline;
 * this program measures that price alone, so a benchmark can tell it from the work of the
 * real probe (bpf/sysflow.bpf.c), which attaches the same way. Never loaded by the
 * library.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_exit")
int BPF_PROG(sf_floor_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}
