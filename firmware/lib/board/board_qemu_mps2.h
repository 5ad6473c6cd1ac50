/* board_qemu_mps2.h - internals shared by board_qemu_mps2.c and startup_qemu_mps2.c
 * (not part of the board API; the application includes bitear_board.h only). */
#ifndef BOARD_QEMU_MPS2_H
#define BOARD_QEMU_MPS2_H

#include <stdint.h>

#define BITEAR_STACK_PAINT 0x5AC0FFEEu   /* word written over the free stack at reset */
#define BITEAR_QEMU_FAULT_EXIT 134        /* QEMU exit code after a fault (like SIGABRT) */

/* Bytes of the UART0 receive ring (a power of two; bitear_board_rx_capacity). 2 KB hold the
 * application's credit window (two AUDIO frames of 654 bytes) and the commands around it. */
#ifndef BITEAR_QEMU_RX_RING_SIZE
#define BITEAR_QEMU_RX_RING_SIZE 2048u
#endif

/* Instructions per SysTick tick under QEMU -icount shift=0 (25 MHz tick, 1 GHz instruction clock). */
#define BITEAR_QEMU_INSTRUCTIONS_PER_TICK 40u

void bitear_qemu_uart0_rx_irq(void);
void bitear_qemu_systick_irq(void);
void bitear_qemu_report_fault(uint32_t ipsr); /* prints, exits QEMU; never returns */

#endif /* BOARD_QEMU_MPS2_H */
