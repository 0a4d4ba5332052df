// SPDX-License-Identifier: MIT
/*
 * pattern.c - the byte stream: a shared random table XORed with a key per
 * lap, so filling is a load and an XOR per word and checking compares
 * blocks of words with one branch per block (the compiler vectorises both).
 *
 * The table is built once, at program start; nothing else is global.
 */
#include <endian.h>
#include <string.h>

#include "pattern.h"

#define PAT_GAMMA 0x9e3779b97f4a7c15ull
#define PAT_WORDS 8192u /* 64 KiB of table: one lap, stays in L2 */
#define PAT_BLOCK 32u /* words compared per branch */

/* Word j of every lap, before the lap's key: splitmix64, little-endian. */
static uint64_t pat_table[PAT_WORDS];

static inline uint64_t pat_mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

__attribute__((constructor)) static void pat_init(void)
{
	unsigned j;

	for (j = 0; j < PAT_WORDS; j++)
		pat_table[j] = htole64(pat_mix((j + 1u) * PAT_GAMMA));
}

/* The key of lap `lap` of stream seed: every lap of every stream differs,
 * so the stream never repeats and another stream's bytes never fit. */
static inline uint64_t pat_key(uint64_t seed, uint64_t lap)
{
	return htole64(pat_mix(seed + (lap + 1u) * PAT_GAMMA));
}

/* Word i of the stream, in memory (little-endian) byte order. */
static inline uint64_t pat_word(uint64_t seed, uint64_t i)
{
	return pat_table[i % PAT_WORDS] ^ pat_key(seed, i / PAT_WORDS);
}

uint64_t pat_seed(uint64_t run_seed, uint64_t conn)
{
	return pat_mix(pat_mix(run_seed) ^ (conn * PAT_GAMMA + 1u));
}

uint8_t pat_byte(uint64_t seed, uint64_t off)
{
	uint64_t w = pat_word(seed, off / 8u);

	return ((const uint8_t *)&w)[off % 8u];
}

/* Whole words [i, i + n) into p (unaligned), a lap at a time. */
static void pat_fill_words(uint64_t seed, uint64_t i, uint8_t *p, size_t n)
{
	uint64_t key, w;
	size_t j, run, k;

	while (n) {
		j = i % PAT_WORDS;
		run = PAT_WORDS - j < n ? PAT_WORDS - j : n;
		key = pat_key(seed, i / PAT_WORDS);
		for (k = 0; k < run; k++) {
			w = pat_table[j + k] ^ key;
			memcpy(p + 8u * k, &w, 8);
		}
		p += 8u * run;
		i += run;
		n -= run;
	}
}

void pat_fill(uint64_t seed, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t i = off / 8u, w;
	size_t skip = off % 8u, n;

	if (skip && len) {
		w = pat_word(seed, i++);
		n = 8u - skip < len ? 8u - skip : len;
		memcpy(p, (const uint8_t *)&w + skip, n);
		p += n;
		len -= n;
	}
	pat_fill_words(seed, i, p, len / 8u);
	i += len / 8u;
	p += len & ~(size_t)7;
	len %= 8u;
	if (len) {
		w = pat_word(seed, i);
		memcpy(p, &w, len);
	}
}

/* The first differing byte among n (<= 8) bytes; n if none differs. */
static size_t pat_first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t k;

	for (k = 0; k < n && a[k] == b[k]; k++)
		;
	return k;
}

/* Compare whole words [i, i + n) with p; index of the first wrong byte,
 * or -1. Blocks are OR-reduced first so the common case has no branch per
 * word. */
static ssize_t pat_check_words(uint64_t seed, uint64_t i, const uint8_t *p,
			       size_t n)
{
	uint64_t key, got, acc;
	size_t j, run, k, b, blk, done = 0;

	while (done < n) {
		j = i % PAT_WORDS;
		run = PAT_WORDS - j < n - done ? PAT_WORDS - j : n - done;
		key = pat_key(seed, i / PAT_WORDS);
		for (b = 0; b < run; b += blk) {
			blk = run - b < PAT_BLOCK ? run - b : PAT_BLOCK;
			acc = 0;
			for (k = b; k < b + blk; k++) {
				memcpy(&got, p + 8u * k, 8);
				acc |= got ^ pat_table[j + k] ^ key;
			}
			if (!acc)
				continue;
			for (k = b;; k++) {
				uint64_t w = pat_table[j + k] ^ key;

				memcpy(&got, p + 8u * k, 8);
				if (got != w)
					return (
					    ssize_t)(8u * (done + k) +
						     pat_first_diff(
							 p + 8u * k,
							 (const uint8_t *)&w,
							 8));
			}
		}
		p += 8u * run;
		i += run;
		done += run;
	}
	return -1;
}

ssize_t pat_check(uint64_t seed, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t i = off / 8u, w;
	size_t skip = off % 8u, n, done = 0, k;
	ssize_t bad;

	if (skip && len) {
		w = pat_word(seed, i++);
		n = 8u - skip < len ? 8u - skip : len;
		k = pat_first_diff(p, (const uint8_t *)&w + skip, n);
		if (k < n)
			return (ssize_t)k;
		done = n;
	}
	bad = pat_check_words(seed, i, p + done, (len - done) / 8u);
	if (bad >= 0)
		return (ssize_t)done + bad;
	i += (len - done) / 8u;
	done += (len - done) & ~(size_t)7;
	if (len > done) {
		w = pat_word(seed, i);
		k = pat_first_diff(p + done, (const uint8_t *)&w, len - done);
		if (k < len - done)
			return (ssize_t)(done + k);
	}
	return -1;
}
