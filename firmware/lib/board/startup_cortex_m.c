/* startup_cortex_m.c - reset and fault handlers of bitear's bare-metal Cortex-M4F boards (the
 * vector tables are the chips' own: startup_qemu_mps2.c, startup_stm32f405.c).
 *
 * Reset: enable the FPU, paint the free stack with BITEAR_STACK_PAINT (for the high-water
 * mark), copy .data from flash, zero .bss, make the 32 bytes below the stack inaccessible with
 * the MPU (a stack overflow faults), call main(), and end with main's return value as exit code.
 * Any fault or unexpected interrupt prints one line on the serial line and ends QEMU with exit
 * code BITEAR_FAULT_EXIT (a real chip stops), so a crashing test fails at once instead of hanging.
 * Symbols come from the linker scripts of the bitear-arm platform (bitear_cortex_m.ld).
 *
 * This library must be linked as objects, not from an archive, or nothing references the
 * vector tables: library.json sets "libArchive": false.
 */
#include "board_cortex_m.h"

#if defined(BITEAR_BOARD_CORTEX_M)

#include "bitear_board.h"

extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];

int main(void);

#define CPACR (*(volatile uint32_t *)0xE000ED88u)
#define MPU_CTRL (*(volatile uint32_t *)0xE000ED94u)
#define MPU_RNR (*(volatile uint32_t *)0xE000ED98u)
#define MPU_RBAR (*(volatile uint32_t *)0xE000ED9Cu)
#define MPU_RASR (*(volatile uint32_t *)0xE000EDA0u)
#define MPU_RASR_32_BYTES_NO_ACCESS ((1u << 28) /* XN */ | (4u << 1) /* 2^(4+1) bytes */ | 1u /* on */)
#define MPU_CTRL_ON_WITH_DEFAULT_MAP ((1u << 2) /* PRIVDEFENA */ | 1u /* ENABLE */)

/* MPU region 0 = the 32-byte guard below the stack, no access; the default memory map
 * everywhere else. Not active in HardFault (HFNMIENA = 0), so the fault handler can run. */
static void guard_stack(void)
{
    MPU_RNR = 0u;
    MPU_RBAR = (uint32_t)(uintptr_t)__stack_guard;
    MPU_RASR = MPU_RASR_32_BYTES_NO_ACCESS;
    MPU_CTRL = MPU_CTRL_ON_WITH_DEFAULT_MAP;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

void Reset_Handler(void)
{
    /* FPU first: CP10 and CP11 full access, before any floating-point instruction. */
    CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    /* Paint the stack below the current stack pointer (everything below it is unused). */
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *p = __stack_bottom; p < sp; p++) {
        *p = BITEAR_STACK_PAINT;
    }

    const uint32_t *src = __data_load;
    for (uint32_t *dst = __data_start; dst < __data_end; dst++) {
        *dst = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end; dst++) {
        *dst = 0u;
    }
    guard_stack();

    bitear_board_exit(main());
}

/* Never returns: restarts from the top of the stack (the faulting stack may be the problem),
 * then reports the exception number. */
__attribute__((naked)) void Fault_Handler(void)
{
    __asm__ volatile("ldr r0, =__stack_top\n\t"
                     "mov sp, r0\n\t"
                     "mrs r0, ipsr\n\t"
                     "b bitear_cm_report_fault\n\t");
}

#endif /* BITEAR_BOARD_CORTEX_M */
