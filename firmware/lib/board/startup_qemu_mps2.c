/* startup_qemu_mps2.c - vector table and reset handler of the emulated board QEMU mps2-an386.
 *
 * Reset: enable the FPU, paint the free stack with BITEAR_STACK_PAINT (for the high-water
 * mark), copy .data from flash, zero .bss, make the 32 bytes below the stack inaccessible with
 * the MPU (a stack overflow faults), call main(), and end QEMU with main's return value as
 * exit code. Any fault or unexpected interrupt prints one line on UART0 and ends QEMU with
 * exit code BITEAR_QEMU_FAULT_EXIT, so a crashing test fails at once instead of hanging.
 * Symbols come from the linker script mps2_an386.ld (in the bitear-arm platform).
 *
 * This file must be linked as an object, not from an archive, or nothing references the
 * vector table: library.json sets "libArchive": false.
 */
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)

#include <stdint.h>

#include "bitear_board.h"
#include "board_qemu_mps2.h"

extern uint32_t __stack_guard[], __stack_bottom[], __stack_top[];
extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

typedef void (*bitear_vector_t)(void);

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
 * then reports the exception number and ends QEMU. */
__attribute__((naked)) void Fault_Handler(void)
{
    __asm__ volatile("ldr r0, =__stack_top\n\t"
                     "mov sp, r0\n\t"
                     "mrs r0, ipsr\n\t"
                     "b bitear_qemu_report_fault\n\t");
}

/* Cortex-M core exceptions, then the 32 external interrupts of the MPS2 FPGA image.
 * IRQ 0 is UART0 RX. */
__attribute__((section(".isr_vector"), used)) const bitear_vector_t bitear_vector_table[16 + 32] = {
    [0] = (bitear_vector_t)(uintptr_t)__stack_top,
    [1] = Reset_Handler,
    [2] = Fault_Handler,  /* NMI */
    [3] = Fault_Handler,  /* HardFault */
    [4] = Fault_Handler,  /* MemManage */
    [5] = Fault_Handler,  /* BusFault */
    [6] = Fault_Handler,  /* UsageFault */
    [11] = Fault_Handler, /* SVCall */
    [12] = Fault_Handler, /* DebugMonitor */
    [14] = Fault_Handler, /* PendSV */
    [15] = bitear_qemu_systick_irq,
    [16 + 0] = bitear_qemu_uart0_rx_irq,
    [16 + 1] = Fault_Handler,  [16 + 2] = Fault_Handler,  [16 + 3] = Fault_Handler,
    [16 + 4] = Fault_Handler,  [16 + 5] = Fault_Handler,  [16 + 6] = Fault_Handler,
    [16 + 7] = Fault_Handler,  [16 + 8] = Fault_Handler,  [16 + 9] = Fault_Handler,
    [16 + 10] = Fault_Handler, [16 + 11] = Fault_Handler, [16 + 12] = Fault_Handler,
    [16 + 13] = Fault_Handler, [16 + 14] = Fault_Handler, [16 + 15] = Fault_Handler,
    [16 + 16] = Fault_Handler, [16 + 17] = Fault_Handler, [16 + 18] = Fault_Handler,
    [16 + 19] = Fault_Handler, [16 + 20] = Fault_Handler, [16 + 21] = Fault_Handler,
    [16 + 22] = Fault_Handler, [16 + 23] = Fault_Handler, [16 + 24] = Fault_Handler,
    [16 + 25] = Fault_Handler, [16 + 26] = Fault_Handler, [16 + 27] = Fault_Handler,
    [16 + 28] = Fault_Handler, [16 + 29] = Fault_Handler, [16 + 30] = Fault_Handler,
    [16 + 31] = Fault_Handler,
};

#endif /* BITEAR_BOARD_QEMU_MPS2_AN386 */
