# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree device-mapper and block-layer modules.
#
#   make [KDIR=<kernel build dir>]        build every module
#   make install [KDIR=...]               install into /lib/modules/<kver>/updates
#   make tools                            tools/dmfilter (the control tool)
#   make clean
#   make check-build                      warning-free W=1 builds against every
#                                         installed Debian 6.1/6.12 header tree
#
# KDIR defaults to the headers of the running kernel.

KDIR ?= /lib/modules/$(shell uname -r)/build
MAKEFLAGS += --no-print-directory

kdir_config := $(wildcard $(KDIR)/include/config/auto.conf)

.PHONY: all modules install modules_install clean check-build help tools

all: modules

help:
	@sed -n '3,12p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# \{0,1\}//'

$(KDIR)/Makefile:
	@echo "error: no kernel build tree at KDIR=$(KDIR)" >&2
	@echo "       install linux-headers-$(shell uname -r) or pass KDIR=<dir>" >&2
	@exit 1

modules: $(KDIR)/Makefile
	@if [ -n "$(kdir_config)" ] && \
	    ! grep -qx 'CONFIG_BLK_INLINE_ENCRYPTION=y' $(kdir_config); then \
		echo "note: $(KDIR) has no CONFIG_BLK_INLINE_ENCRYPTION: keyslot-passthrough and dm-crypt-inline are left out"; \
	fi
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

install modules_install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_DIR=updates modules_install
	depmod -a $(shell $(MAKE) -s -C $(KDIR) kernelrelease 2>/dev/null)

tools: tools/dmfilter

tools/dmfilter: tools/dmfilter.c include/uapi/linux/dm-filter.h
	$(CC) -O2 -Wall -Wextra -Iinclude/uapi -o $@ $<

clean:
	rm -f tools/dmfilter
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || \
		find . \( -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name 'modules.order' -o -name Module.symvers \) -delete

check-build:
	tests/build-check.sh
