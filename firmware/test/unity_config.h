/* unity_config.h - where the test library prints, for every bitear test build (qemu_m4 and
 * host): the board's serial line. Its presence here also stops PlatformIO from generating its
 * own configuration, which would print through putchar (newlib stdio and malloc on the M4).
 * The test's main calls bitear_board_init() before UNITY_BEGIN(). */
#ifndef UNITY_CONFIG_H
#define UNITY_CONFIG_H

#include <stdint.h>

void bitear_board_putc(uint8_t c); /* firmware/lib/board/bitear_board.h */

#define UNITY_OUTPUT_CHAR(c) bitear_board_putc((uint8_t)(c))

#endif /* UNITY_CONFIG_H */
