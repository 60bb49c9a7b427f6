#!/bin/sh
# Regenerates the checked-in bpf/vmlinux.h from the running kernel's BTF.
#
# The probe is CO-RE: libbpf relocates every field access against the BTF of the
# kernel it loads on, so this header only provides type *names and shapes* for
# compiling. Rerun it only when bpf/sysflow.bpf.c starts using a type or field
# that the checked-in header lacks (needs `bpftool`, Debian package `bpftool`,
# installed by scripts/setup.sh).
set -eu
cd "$(dirname "$0")/.."
btf="${1:-/sys/kernel/btf/vmlinux}"
bpftool btf dump file "$btf" format c > bpf/vmlinux.h.tmp
mv bpf/vmlinux.h.tmp bpf/vmlinux.h
echo "bpf/vmlinux.h regenerated from $btf ($(uname -r)): $(wc -c < bpf/vmlinux.h) bytes"
