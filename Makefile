# SPDX-License-Identifier: GPL-2.0
#
# rpmem: user-facing targets. See README.md.
#
#   make            build rpmem.ko against the test kernel (built if missing)
#   make run        the main job: boot, load, mkfs, mount -o dax, show, unload
#   make check      every test: host-side checks and the in-guest selftests
#                   (VARIANT=debug: on the debug kernel, plus selftests/debug)
#   make shell      an interactive shell in the test VM, rpmem built
#   make kernel     just build the test kernel (VARIANT=debug for the debug one)
#   make series     the kernel patch series (tools/series.sh; OUT=DIR)
#   make check-series  build it in-tree patch by patch, boot it, run the tests
#
# VARIANT=debug builds against the debug (KASAN) kernel, which is built with
# clang: the toolchain then includes its LLVM=-NN, so rpmem.ko is too.
#
# KDIR=<tree> builds against another Linux 7.3 tree with CONFIG_RUST=y.

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VARIANT ?= default

# Toolchain and test kernel, resolved once per make invocation.
TOOLCHAIN = $(eval TOOLCHAIN := $$(shell $(TOP)/tools/toolchain.sh $(VARIANT) | tr '\n' ' '))$(TOOLCHAIN)
KDIR ?= $(eval KDIR := $$(shell $(TOP)/tools/kernel.sh $(VARIANT)))$(KDIR)
KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) $(TOOLCHAIN)

.PHONY: all modules clippy fmt fmtcheck run check bench shell kernel series check-series clean
all: modules

modules:
	@test -n "$(KDIR)" || { echo "make: no kernel tree (tools/kernel.sh failed)" >&2; exit 1; }
	+@$(KMAKE) modules

clippy:
	+@$(KMAKE) CLIPPY=1 modules

fmt:
	rustfmt --edition 2021 --config-path $(KDIR)/source/.rustfmt.toml $(TOP)/rust/rpmem.rs

fmtcheck:
	rustfmt --check --edition 2021 --config-path $(KDIR)/source/.rustfmt.toml $(TOP)/rust/rpmem.rs
	@# SC1007 (x= y=), SC2054 (QEMU option lists) and SC2209 are idioms here
	shellcheck -S warning -x -e SC1091,SC1007,SC2054,SC2209 $(TOP)/tools/*.sh $(TOP)/selftests/*.sh $(TOP)/selftests/debug/*.sh $(TOP)/selftests/faulty/*.sh

kernel:
	@echo $(KDIR)

run: modules
	$(TOP)/tools/vm.sh --mem 2G --nvdimm 1G --memmap 512M!1G -- $(TOP)/tools/run-demo.sh

# T="NAME..." runs the named tests only, J=N up to N of them at a time
# (RPMEM_JOBS; default: the number of CPUs).
check:
	VARIANT=$(VARIANT) $(if $(J),RPMEM_JOBS=$(J)) $(TOP)/tools/check.sh $(T)

# The patch series against the Linux 7.3 tree, written to OUT (default
# $(RPMEM_CACHE)/series/out); see "The patch series" in README.md.
series:
	$(TOP)/tools/series.sh $(OUT)

check-series:
	$(TOP)/tools/check-series.sh $(OUT)

# BENCH="--reps 7 --rows seq" passes options to tools/bench.sh (see --help).
bench:
	$(TOP)/tools/bench.sh $(BENCH)

shell: modules
	$(TOP)/tools/vm.sh --mem 2G --nvdimm 1G --memmap 512M!1G --shell

clean:
	+@$(KMAKE) clean
	rm -f $(TOP)/rust/sys/bindings_generated.rs $(TOP)/rust/sys/.bindings_generated.rs.cmd \
	      $(TOP)/rust/doctests_generated.rs $(TOP)/rust/.doctests_generated.rs.cmd
