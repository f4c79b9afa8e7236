# make/ukl.mk: build a Unikernel Linux application with make. Documented in docs/make.md.
#
#   UKL_KERNEL := /path/to/vmlinux            # the kernel build's vmlinux (kernel/build --print: VMLINUX)
#   UKL_SETUP  := /path/to/setup.bin          # optional: also make NAME.bzImage (SETUP_BIN)
#   include /path/to/ukl-link/make/ukl.mk
#   CFLAGS += $(UKL_CFLAGS) $(UKL_DEPFLAGS)
#   $(eval $(call ukl_app,hello,main.o util.o,libc.a))
#
# ukl_app makes NAME.o (ld -r of the objects), NAME.vmlinux (ukl-link link) and, with UKL_SETUP, NAME.bzImage
# (ukl-link pack). ukl-link writes a depfile next to each output, so touching the kernel, the linker script, an
# archive or a thin archive's member relinks.

ifndef UKL_MK_INCLUDED
UKL_MK_INCLUDED := 1

# Tools. UKL_LINK may be a command with arguments (dotnet path/to/ukl-link.dll).
UKL_LINK ?= ukl-link
UKL_CC ?= $(CC)
UKL_LD ?= $(LD)
# Optional: a linker script (default: the one bundled with ukl-link), extra link options (--map FILE, -v, ...).
UKL_SCRIPT ?=
UKL_LINKFLAGS ?=
UKL_PACKFLAGS ?=

# The code-generation flags a UKL object needs (docs/rules.md says which finding each one avoids):
#   -mcmodel=kernel       code and data live in the top 2 GiB of the address space (UKL001)
#   -mno-red-zone         interrupts run on the same stack, below %rsp (UKL002)
#   -fno-pic -fno-pie     no GOT or PLT indirection; absolute addresses are fine in a static kernel image (UKL005)
#   -fno-stack-protector  the kernel's %gs-based canary is not the %fs:0x28 one user space code reads
#   -ffreestanding        no assumptions about a hosted C library's builtins
UKL_CFLAGS_REQUIRED := -mcmodel=kernel -mno-red-zone -fno-pic -fno-pie -fno-stack-protector -ffreestanding
# Make writes .d files for header dependencies; add to CFLAGS with UKL_CFLAGS.
UKL_DEPFLAGS ?= -MMD -MP

# One-time probe (once per make run, and only when UKL_CFLAGS is used): one compiler call with every flag; only
# when it fails, one call per flag to name the one the compiler lacks. -fno-pic -fno-pie go with each probe
# because gcc refuses -mcmodel=kernel in PIC mode, Debian's default.
ukl_probe = $(shell $(UKL_CC) -Werror -fno-pic -fno-pie $(1) -x c -c -o /dev/null /dev/null >/dev/null 2>&1 && echo ok)
define ukl_check_cflags
$(if $(call ukl_probe,$(UKL_CFLAGS_REQUIRED)),,$(foreach f,$(UKL_CFLAGS_REQUIRED),$(if $(call ukl_probe,$(f)),,$(error ukl.mk: the C compiler '$(UKL_CC)' does not accept $(f), which UKL objects need; use a gcc or clang for x86-64 that does (UKL_CC=gcc), or see docs/make.md)))$(error ukl.mk: the C compiler '$(UKL_CC)' rejects the UKL flags together: $(UKL_CFLAGS_REQUIRED)))
endef
ukl_cflags_checked = $(if $(UKL_CFLAGS_OK),,$(eval UKL_CFLAGS_OK := $(ukl_check_cflags)ok))
UKL_CFLAGS = $(ukl_cflags_checked)$(UKL_CFLAGS_REQUIRED)

# $(call ukl_partial_link,OUT,OBJECTS): the recipe line of a partial link (ld -r), for rules of your own.
ukl_partial_link = $(UKL_LD) -r -o $(1) $(2)

# $(call ukl_link_cmd,OUT,INPUTS): the recipe line of `ukl-link link`, with a depfile OUT.d.
ukl_link_cmd = $(UKL_LINK) link --kernel $(UKL_KERNEL) $(if $(UKL_SCRIPT),--script $(UKL_SCRIPT)) --depfile $(1).d $(UKL_LINKFLAGS) -o $(1) $(2)

# $(call ukl_pack_cmd,OUT,VMLINUX): the recipe line of `ukl-link pack`, with a depfile OUT.d.
ukl_pack_cmd = $(UKL_LINK) pack --kernel $(2) --setup $(UKL_SETUP) --depfile $(1).d $(UKL_PACKFLAGS) -o $(1)

# $(eval $(call ukl_app,NAME,OBJECTS[,ARCHIVES])): NAME.o, NAME.vmlinux and (with UKL_SETUP) NAME.bzImage.
define ukl_app
$(1).o: $(2)
	$$(call ukl_partial_link,$$@,$$^)

$(1).vmlinux: $(1).o $(3) $$(UKL_KERNEL) $$(UKL_SCRIPT)
	$$(if $$(UKL_KERNEL),,$$(error ukl.mk: set UKL_KERNEL to the vmlinux of a UKL kernel build (kernel/build --print gives VMLINUX)))
	$$(call ukl_link_cmd,$$@,$(1).o $(3))

-include $(1).vmlinux.d

ifneq ($$(UKL_SETUP),)
$(1).bzImage: $(1).vmlinux $$(UKL_SETUP)
	$$(call ukl_pack_cmd,$$@,$(1).vmlinux)

-include $(1).bzImage.d
endif

ukl-clean-$(1):
	rm -f $(1).o $(1).vmlinux $(1).vmlinux.d $(1).bzImage $(1).bzImage.d
.PHONY: ukl-clean-$(1)
endef

endif
