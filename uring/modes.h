/* SPDX-License-Identifier: MIT */
/*
 * modes.h - the modes uring-echo is built with, one file each
 * (mode_basic.c, mode_multishot.c). Only setup.c picks among them; the
 * loop knows a mode only through its hooks (struct uring_mode).
 */
#ifndef URING_MODES_H
#define URING_MODES_H

#include "loop_int.h"

/* One-shot accept and recv into the connection's own ring. Needs nothing
 * the ring itself does not: the fallback of every other mode. */
extern const struct uring_mode uring_mode_basic;

/* Multishot accept and recv into provided buffers (Linux 6.0). */
extern const struct uring_mode uring_mode_multishot;

#endif
