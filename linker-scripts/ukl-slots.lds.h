/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ukl-slots.lds.h - Unikernel Linux image slots, slot ABI v1.
 *
 * Part of ukl-link (linker-scripts/). kernel/build copies this file to
 * arch/x86/kernel/ukl-slots.lds.h in the kernel tree, where the patched
 * arch/x86/kernel/vmlinux.lds.S includes it before <asm-generic/vmlinux.lds.h>.
 *
 * Each macro reserves one slot INSIDE an existing output section, so the slot
 * inherits that section's mapping and lifetime:
 *
 *   UKL_TEXT_SLOT    in .text  before the retpoline thunks, i.e. inside
 *                    [_stext, _etext): read-only + executable. The gap is
 *                    filled with the section's fill pattern, 0xcc (int3).
 *   UKL_RODATA_SLOT  at the end of .rodata (expanded by RO_DATA() in the
 *                    generic header), i.e. inside [__start_rodata,
 *                    __end_rodata): read-only, NX, zero filled, PROGBITS.
 *   UKL_DATA_SLOT    in .data after DATA_DATA, inside [_sdata, _edata):
 *                    read-write, NX, zero filled, PROGBITS.
 *   UKL_BSS_SLOT     in .bss before __bss_stop: NOBITS, cleared at boot.
 *
 * Never inside [__init_begin, __init_end): that memory is freed after boot.
 *
 * Start and end of every slot are 4096-byte aligned; the sizes come from
 * CONFIG_UKL_*_SLOT_SIZE. The bound symbols are global (linker-script
 * symbols are) and show up in the vmlinux symbol table and System.map.
 * Symbols are defined inside the output section so they are section
 * relative, not absolute.
 */
#ifndef __UKL_SLOTS_LDS_H
#define __UKL_SLOTS_LDS_H

#ifdef CONFIG_UNIKERNEL_LINUX

#define UKL_SLOT_ALIGN_BYTES	0x1000

/*
 * __UKL_SLOT(name, size): align, define __ukl_<name>_slot_start, skip size
 * bytes (gap bytes take the output section's fill), define ..._end.
 * The second ALIGN keeps the end page aligned even for a bad size; the C
 * side (arch/x86/kernel/ukl.c) rejects sizes that are not page multiples.
 */
#define __UKL_SLOT(name, size)						\
	. = ALIGN(UKL_SLOT_ALIGN_BYTES);				\
	__ukl_##name##_slot_start = .;					\
	. = . + (size);							\
	. = ALIGN(UKL_SLOT_ALIGN_BYTES);				\
	__ukl_##name##_slot_end = .;

#define UKL_TEXT_SLOT	__UKL_SLOT(text, CONFIG_UKL_TEXT_SLOT_SIZE)
#define UKL_RODATA_SLOT	__UKL_SLOT(rodata, CONFIG_UKL_RODATA_SLOT_SIZE)
#define UKL_DATA_SLOT	__UKL_SLOT(data, CONFIG_UKL_DATA_SLOT_SIZE)
#define UKL_BSS_SLOT	__UKL_SLOT(bss, CONFIG_UKL_BSS_SLOT_SIZE)

#else /* !CONFIG_UNIKERNEL_LINUX */

#define UKL_TEXT_SLOT
#define UKL_RODATA_SLOT
#define UKL_DATA_SLOT
#define UKL_BSS_SLOT

#endif /* CONFIG_UNIKERNEL_LINUX */
#endif /* __UKL_SLOTS_LDS_H */
