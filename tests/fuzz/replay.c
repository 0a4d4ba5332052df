// SPDX-License-Identifier: MIT
/*
 * replay.c - run a fuzz harness without libFuzzer: the regression test.
 *
 * `replay [-r N] PATH...` feeds every file named, and every regular file
 * directly inside a named directory, to LLVMFuzzerTestOneInput, then N
 * pseudo-random inputs (fixed seed). A failing input aborts in the harness;
 * an unreadable path, or no input at all, exits 1.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (1u << 20) /* larger files are not inputs */
#define REPLAY_RANDOM_MAX 1024 /* longest random input */

static uint8_t replay_buf[REPLAY_MAX_INPUT];

/* Run one file; returns 0, or -errno if it cannot be read. */
static int replay_file(const char *path)
{
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f)
		return -errno;
	n = fread(replay_buf, 1, sizeof(replay_buf), f);
	if (ferror(f) || !feof(f)) {
		fclose(f);
		return -EFBIG;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(replay_buf, n);
	return 0;
}

static int replay_keep(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Run every regular file in dir, in name order; returns the count run, or
 * -errno. */
static int replay_dir(const char *dir)
{
	struct dirent **names;
	char path[4096];
	struct stat st;
	int n, i, ran = 0, ret = 0;

	n = scandir(dir, &names, replay_keep, alphasort);
	if (n < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (!ret && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			ret = replay_file(path);
			ran++;
		}
		free(names[i]);
	}
	free(names);
	return ret ? ret : ran;
}

/* n inputs of xorshift64 bytes, 0..REPLAY_RANDOM_MAX long each. */
static void replay_random(unsigned long n)
{
	uint64_t s = 0x2545f4914f6cdd1dull;
	unsigned long i;
	size_t len, j;

	for (i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		len = (size_t)(s % (REPLAY_RANDOM_MAX + 1));
		for (j = 0; j < len; j++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			replay_buf[j] = (uint8_t)(s >> 32);
		}
		LLVMFuzzerTestOneInput(replay_buf, len);
	}
}

int main(int argc, char **argv)
{
	unsigned long nrandom = 0, total = 0;
	struct stat st;
	int i, ret;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-r") && i + 1 < argc) {
			nrandom = strtoul(argv[++i], NULL, 10);
			continue;
		}
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
				strerror(errno));
			return 1;
		}
		ret = S_ISDIR(st.st_mode) ? replay_dir(argv[i])
					  : replay_file(argv[i]);
		if (ret < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
				strerror(-ret));
			return 1;
		}
		total += S_ISDIR(st.st_mode) ? (unsigned long)ret : 1;
	}
	if (total == 0 && nrandom == 0) {
		fprintf(stderr,
			"usage: %s [-r N] FILE|DIR... (no input found)\n",
			argv[0]);
		return 1;
	}
	replay_random(nrandom);
	printf("replayed %lu files and %lu random inputs\n", total, nrandom);
	return 0;
}
