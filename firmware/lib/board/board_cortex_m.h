/* board_cortex_m.h - internals shared by bitear's bare-metal Cortex-M4F boards (QEMU mps2-an386,
 * STM32F405): start-up, fault report, serial RX ring, SysTick tick counter, stack measurement,
 * exit. Not part of the board API (the application includes bitear_board.h only).
 *
 * A chip's own files (board_<chip>.c, startup_<chip>.c) provide the vector table, clocks, the
 * UART (init, TX, an RX interrupt that calls bitear_cm_rx_push), the tick rate and cost unit, and
 * bitear_cm_semihosting(); everything else of bitear_board.h comes from board_cortex_m.c.
 */
#ifndef BOARD_CORTEX_M_H
#define BOARD_CORTEX_M_H

#include <stdint.h>

#if defined(BITEAR_BOARD_QEMU_MPS2_AN386) || defined(BITEAR_BOARD_STM32F405)
#define BITEAR_BOARD_CORTEX_M 1
#endif

#define BITEAR_STACK_PAINT 0x5AC0FFEEu   /* word written over the free stack at reset */
#define BITEAR_FAULT_EXIT 134             /* exit code after a fault (like SIGABRT) */

/* Bytes of the serial receive ring (a power of two; bitear_board_rx_capacity). 2 KB hold the
 * application's credit window (two AUDIO frames of 654 bytes) and the commands around it. */
#ifndef BITEAR_RX_RING_SIZE
#define BITEAR_RX_RING_SIZE 2048u
#endif

#define BITEAR_SYSTICK_RELOAD 0x00FFFFFFu /* 24-bit SysTick, extended to 32 bits by its wrap IRQ */

/* From board_cortex_m.c, for the chip's files. */
void bitear_cm_init(void);                 /* RX ring, SysTick from the CPU clock; call last in init */
void bitear_cm_rx_push(uint8_t byte);      /* from the chip's UART RX interrupt */
void bitear_cm_rx_lost(void);              /* ... when the UART lost a byte (overrun) */
void bitear_cm_systick_irq(void);
void bitear_cm_report_fault(uint32_t ipsr); /* prints, exits or stops; never returns */

/* From startup_cortex_m.c, for the chip's vector table. */
void Reset_Handler(void);
void Fault_Handler(void);

/* The stack's bounds, from the linker script (bitear_cortex_m.ld). */
extern uint32_t __stack_guard[], __stack_bottom[], __stack_top[];

/* A chip's vector table starts with these: stack, reset, every core fault to Fault_Handler,
 * SysTick to the tick counter. The chip's interrupts (index 16 on) follow in its own file. */
typedef void (*bitear_vector_t)(void);
#define BITEAR_CORTEX_M_CORE_VECTORS                                                                 \
    [0] = (bitear_vector_t)(uintptr_t)__stack_top, [1] = Reset_Handler, [2] = Fault_Handler, /* NMI */ \
    [3] = Fault_Handler, [4] = Fault_Handler, [5] = Fault_Handler, [6] = Fault_Handler, /* faults */    \
    [11] = Fault_Handler, [12] = Fault_Handler, [14] = Fault_Handler, /* SVCall, DebugMonitor, PendSV */  \
    [15] = bitear_cm_systick_irq

/* From the chip's board file: 1 when Arm semihosting answers (QEMU with -semihosting-config
 * enable=on), so bitear_board_exit can end the program; 0 on a chip without a debugger, where a
 * semihosting call would fault. */
int bitear_cm_semihosting(void);

#endif /* BOARD_CORTEX_M_H */
