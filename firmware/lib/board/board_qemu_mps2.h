/* board_qemu_mps2.h - internals shared by board_qemu_mps2.c and startup_qemu_mps2.c
 * (not part of the board API; the application includes bitear_board.h only). */
#ifndef BOARD_QEMU_MPS2_H
#define BOARD_QEMU_MPS2_H

/* Instructions per SysTick tick under QEMU -icount shift=0 (25 MHz tick, 1 GHz instruction clock). */
#define BITEAR_QEMU_INSTRUCTIONS_PER_TICK 40u

void bitear_qemu_uart0_rx_irq(void);

#endif /* BOARD_QEMU_MPS2_H */
