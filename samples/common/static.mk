# samples/common/static.mk: what samples/glibc and samples/cxx share. An ordinary program for Debian's glibc (and
# libstdc++), compiled with the distribution's flags and no UKL flag, and its gcc/g++ -static twin. A sample sets
# PROGRAM, DRIVER ($(CC) or $(CXX)) and LIBS (the archives g++ -static adds before libgcc: libstdc++.a libm.a), and
# includes this file; `make inputs` prints ukl-link's inputs, one a line: what gcc -static gives ld, with
# crtbeginS.o/crtendS.o for crtbeginT.o/crtend.o (docs/linking.md):
#   ukl-link link --kernel vmlinux -o vmlinux.$(PROGRAM) $(make -s inputs)
OUT ?= out
DISTRO_FLAGS := -O2 -g -fstack-protector-strong -fcf-protection -Wall
GCCFILE = $(shell $(DRIVER) -print-file-name=$(1))
UKL_INPUTS = $(call GCCFILE,crt1.o) $(call GCCFILE,crti.o) $(call GCCFILE,crtbeginS.o) $(OUT)/$(PROGRAM).o \
	$(foreach l,$(LIBS),$(call GCCFILE,$(l))) $(call GCCFILE,libgcc.a) $(call GCCFILE,libgcc_eh.a) \
	$(call GCCFILE,libc.a) $(call GCCFILE,crtendS.o) $(call GCCFILE,crtn.o)

all: $(OUT)/$(PROGRAM).o $(OUT)/$(PROGRAM)-native

$(OUT)/$(PROGRAM)-native: $(OUT)/$(PROGRAM).o
	$(DRIVER) -static -o $@ $< $(NATIVE_LIBS)

inputs:
	@printf '%s\n' $(UKL_INPUTS)

$(OUT):
	mkdir -p $@

clean:
	rm -rf $(OUT)

.PHONY: all clean inputs
