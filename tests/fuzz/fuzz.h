/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - the one entry point every fuzz harness defines.
 *
 * libFuzzer calls it in fuzzing builds (tests/fuzz/run.sh); replay.c calls
 * it for each corpus file in plain builds (meson test --suite fuzz).
 */
#ifndef ECHO_FUZZ_H
#define ECHO_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* LLVMFuzzerTestOneInput - run one input; returns 0. A violated invariant
 * aborts the process (libFuzzer then saves the input as a crash). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
