// SPDX-License-Identifier: GPL-2.0
/*
 * The C shim again, for a KUnit test module of rpmem (see Kbuild): an
 * object belongs to one module.
 */
#include "shim.c"
