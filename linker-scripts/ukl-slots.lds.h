/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ukl-slots.lds.h - Unikernel Linux image slots, slot ABI v2.
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
 *   UKL_DATA_SLOT    at the start of .data, inside [_sdata, _edata):
 *                    read-write, NX, zero filled, PROGBITS.
 *   UKL_BSS_SLOT     in .bss before __bss_stop: NOBITS, cleared at boot.
 *
 * Never inside [__init_begin, __init_end): that memory is freed after boot.
 *
 * Start and end of every slot are 4096-byte aligned; the sizes come from
 * CONFIG_UKL_*_SLOT_SIZE. The data and bss slots start on a 2 MiB (PMD)
 * boundary and their sizes are whole multiples of 2 MiB, so the PMD entries
 * that map them map nothing of the kernel: each process running the
 * application gets its own copy of them (per-process data, see the kernel's
 * arch/x86/mm/ukl_data.c). .data starts on a 2 MiB boundary already
 * (X86_ALIGN_RODATA_END), so the data slot there costs no padding; the
 * padding before the bss slot is bounded by __ukl_bss_slot_pad and is given
 * back to the page allocator with the slot. The bound symbols are global
 * (linker-script symbols are) and show up in the vmlinux symbol table and
 * System.map. Symbols are defined inside the output section so they are
 * section relative, not absolute.
 */
#ifndef __UKL_SLOTS_LDS_H
#define __UKL_SLOTS_LDS_H

#ifdef CONFIG_UNIKERNEL_LINUX

#define UKL_SLOT_ALIGN_BYTES	0x1000
#define UKL_PMD_ALIGN_BYTES	0x200000

/*
 * __UKL_SLOT(name, size, align): align, define __ukl_<name>_slot_start, skip
 * size bytes (gap bytes take the output section's fill), define ..._end.
 * The second ALIGN keeps the end aligned even for a bad size; the C side
 * (arch/x86/kernel/ukl.c) rejects sizes that are not page multiples (and,
 * for the data and bss slots, not 2 MiB multiples).
 */
#define __UKL_SLOT(name, size, align)					\
	. = ALIGN(align);						\
	__ukl_##name##_slot_start = .;					\
	. = . + (size);							\
	. = ALIGN(align);						\
	__ukl_##name##_slot_end = .;

/* A PMD-aligned slot; __ukl_<name>_slot_pad is where the padding before it starts. */
#define __UKL_PMD_SLOT(name, size)					\
	__ukl_##name##_slot_pad = .;					\
	__UKL_SLOT(name, size, UKL_PMD_ALIGN_BYTES)

#define UKL_TEXT_SLOT	__UKL_SLOT(text, CONFIG_UKL_TEXT_SLOT_SIZE, UKL_SLOT_ALIGN_BYTES)
#define UKL_RODATA_SLOT	__UKL_SLOT(rodata, CONFIG_UKL_RODATA_SLOT_SIZE, UKL_SLOT_ALIGN_BYTES)
#define UKL_DATA_SLOT	__UKL_PMD_SLOT(data, CONFIG_UKL_DATA_SLOT_SIZE)
#define UKL_BSS_SLOT	__UKL_PMD_SLOT(bss, CONFIG_UKL_BSS_SLOT_SIZE)

#else /* !CONFIG_UNIKERNEL_LINUX */

#define UKL_TEXT_SLOT
#define UKL_RODATA_SLOT
#define UKL_DATA_SLOT
#define UKL_BSS_SLOT

#endif /* CONFIG_UNIKERNEL_LINUX */
#endif /* __UKL_SLOTS_LDS_H */
