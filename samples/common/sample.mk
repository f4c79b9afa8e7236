# samples/common/sample.mk: what the freestanding samples' Makefiles share. A sample sets SAMPLE (its name; the source
# is $(SAMPLE).c) and includes this file; it builds $(OUT)/$(SAMPLE).o and $(OUT)/start.o (samples/common/start.S:
# _start reads argc/argv, calls main, exit_group) with make/ukl.mk's UKL_CFLAGS (plus EXTRA_CFLAGS), and with
# UKL_KERNEL (and UKL_LINK) set also $(OUT)/$(SAMPLE)-app.vmlinux through ukl.mk's ukl_app rule:
#   make OUT=out                                   objects only (what ./demo and the tests use)
#   make OUT=out UKL_KERNEL=vmlinux UKL_LINK=...   also the linked kernel, relinked exactly when an input changes
SAMPLE_COMMON := $(dir $(lastword $(MAKEFILE_LIST)))
include $(SAMPLE_COMMON)../../make/ukl.mk

OUT ?= out
EXTRA_CFLAGS ?=
SAMPLE_CFLAGS = -O2 -g $(UKL_CFLAGS) $(EXTRA_CFLAGS)

all: $(OUT)/$(SAMPLE).o $(OUT)/start.o

$(OUT)/$(SAMPLE).o: $(SAMPLE).c $(SAMPLE_COMMON)sample.h | $(OUT)
	gcc $(SAMPLE_CFLAGS) -c $< -o $@

$(OUT)/start.o: $(SAMPLE_COMMON)start.S | $(OUT)
	gcc $(SAMPLE_CFLAGS) -c $< -o $@

ifneq ($(UKL_KERNEL),)
all: $(OUT)/$(SAMPLE)-app.vmlinux
$(eval $(call ukl_app,$(OUT)/$(SAMPLE)-app,$(OUT)/start.o $(OUT)/$(SAMPLE).o))
endif

$(OUT):
	mkdir -p $@

clean:
	rm -rf $(OUT)

.PHONY: all clean
