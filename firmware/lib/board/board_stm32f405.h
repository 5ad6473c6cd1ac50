/* board_stm32f405.h - facts of the STM32F405 board shared by board_stm32f405.c and
 * startup_stm32f405.c (not part of the board API; the application includes bitear_board.h only). */
#ifndef BOARD_STM32F405_H
#define BOARD_STM32F405_H

#include <stdint.h>

/* The serial line: USART3 on PB10 (TX) and PB11 (RX), the pins marked TX and RX on the Adafruit
 * Feather STM32F405 Express, at 1,000,000 baud 8N1 (exact from both the 42 MHz APB1 clock and
 * the 16 MHz HSI: BRR 42 and 16). 16 kHz int16 audio in AUDIO frames needs 32.7 kB/s; the line
 * carries 100 kB/s (10 bits per byte), a margin of 3x. */
#define BITEAR_STM32_BAUD 1000000u
#define BITEAR_STM32_USART3_IRQN 39u

/* Clocks. The Feather's crystal (HSE) is 12 MHz; the PLL makes 168 MHz from it. Without a
 * crystal that starts (QEMU does not model the RCC: it reads as zero) the chip stays on its
 * 16 MHz internal oscillator (HSI). QEMU's netduinoplus2 runs SysTick at 168 MHz regardless. */
#define BITEAR_STM32_HSE_HZ 12000000u
#define BITEAR_STM32_HSI_HZ 16000000u
#define BITEAR_STM32_SYSCLK_HZ 168000000u

void bitear_stm32_usart3_irq(void);

#endif /* BOARD_STM32F405_H */
