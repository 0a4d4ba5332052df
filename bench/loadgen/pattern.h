/* SPDX-License-Identifier: MIT */
/*
 * pattern.h - the byte stream each connection sends, and its checker.
 *
 * Word i of stream s is T[i % 8192] ^ splitmix64(s + (i / 8192 + 1) * g),
 * T a fixed random table: random access, stateless, never repeating, so a
 * misplaced, reordered, dropped or foreign byte shows at its offset. Pure.
 */
#ifndef LOAD_PATTERN_H
#define LOAD_PATTERN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* pat_seed - the stream seed of connection conn in a run seeded run_seed;
 * distinct connections get unrelated streams. */
uint64_t pat_seed(uint64_t run_seed, uint64_t conn);

/* pat_byte - byte off of the stream seed. */
uint8_t pat_byte(uint64_t seed, uint64_t off);

/* pat_fill - write bytes [off, off + len) of the stream seed into buf. */
void pat_fill(uint64_t seed, uint64_t off, void *buf, size_t len);

/* pat_check - compare buf with bytes [off, off + len) of the stream seed;
 * returns -1 if all match, else the index in buf of the first difference. */
ssize_t pat_check(uint64_t seed, uint64_t off, const void *buf, size_t len);

#endif
