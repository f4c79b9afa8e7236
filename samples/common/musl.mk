# samples/common/musl.mk: what the musl samples compiled once and linked twice share (ring0, redzone). A sample sets
# PROGRAM (its source is $(PROGRAM).c) and PROGRAM_CFLAGS (its code-generation flags) and includes this file, which
# builds $(OUT)/$(PROGRAM).o against the UKL musl (toolchain/build-musl --model kernel) for ukl-link:
#   ukl-link link --kernel vmlinux -o vmlinux.$(PROGRAM) $(MUSL)/lib/crt1.o $(OUT)/$(PROGRAM).o $(MUSL)/lib/libc.a
# and, from the same object, the ordinary static executable $(OUT)/$(PROGRAM)-native that must behave the same.
# MUSL is the prefix build-musl prints (the tests pass it); `make` alone asks build-musl.
MUSL_MK_DIR := $(dir $(lastword $(MAKEFILE_LIST)))
OUT ?= out
MUSL ?= $(shell $(MUSL_MK_DIR)../../toolchain/build-musl --model kernel | tail -n 1)

all: $(OUT)/$(PROGRAM).o $(OUT)/$(PROGRAM)-native

$(OUT)/$(PROGRAM).o: $(PROGRAM).c | $(OUT)
	$(MUSL)/bin/musl-gcc $(PROGRAM_CFLAGS) -Wall -c $< -o $@

# -mcmodel=kernel code also links at ordinary low addresses (its 32-bit sign-extended addresses reach both ends).
$(OUT)/$(PROGRAM)-native: $(OUT)/$(PROGRAM).o | $(OUT)
	gcc -static -nostdlib -no-pie -o $@ $(MUSL)/lib/crt1.o $(MUSL)/lib/crti.o $< $(MUSL)/lib/libc.a \
		$$(gcc -print-libgcc-file-name) $(MUSL)/lib/crtn.o

$(OUT):
	mkdir -p $@

clean:
	rm -rf $(OUT)

.PHONY: all clean
