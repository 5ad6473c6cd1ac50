/* bitear_board.h - the one header of bitear's board support.
 *
 * Contract: everything the application and the tests need from a board, and nothing more:
 * a serial line (UART or USB CDC), a tick counter and what it counts, an optional microphone,
 * stack measurement, and a way to stop. The serial line is byte-oriented; received bytes are
 * kept in a buffer filled by the RX interrupt (bitear_board_getc never blocks). Nothing here
 * allocates memory.
 *
 * Implementations (exactly one is compiled in, chosen by a macro the build defines):
 *   BITEAR_BOARD_QEMU_MPS2_AN386  board_qemu_mps2.c + startup_qemu_mps2.c (emulated Cortex-M4F;
 *                                 defined by boards/mps2_an386.json)
 *   BITEAR_BOARD_STM32F405        board_stm32f405.c + startup_stm32f405.c (Adafruit Feather
 *                                 STM32F405 Express; QEMU netduinoplus2; boards/feather_f405.json)
 *                                 The two bare-metal boards share board_cortex_m.c + startup_cortex_m.c.
 *   BITEAR_BOARD_HOST             board_host.c (stdin/stdout; defined by the bitear-host platform)
 *   ARDUINO                       ../board_arduino/board_arduino.cpp (real boards, Arduino cores)
 *
 * Adding a board: one source file implementing the functions marked "required" below (guarded by
 * the board's macro, sizes it needs in its own header), and one env in platformio.ini. The
 * functions marked "default" have a weak definition in board_defaults.c for a board without that
 * feature (no microphone, no stack painting, no RX overflow count, no receive-buffer size, no
 * frame-aware sleep); a board that has it defines the function and the linker takes its version.
 */
#ifndef BITEAR_BOARD_H
#define BITEAR_BOARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Required. Sets up clocks, the serial line (RX by interrupt), the tick counter. Call once, first. */
void bitear_board_init(void);

/* Required. Short board name used in the ready banner, e.g. "qemu_mps2_an386". */
const char *bitear_board_name(void);

/* Required. Serial output: blocks until the byte is handed to the UART. */
void bitear_board_putc(uint8_t c);
void bitear_board_write(const void *data, size_t n);
void bitear_board_puts(const char *s); /* no newline added */

/* Default 0 (not known: writes may block). 1 when the serial line cannot take a byte now: the host
 * is not reading (QEMU: the UART's TX register stays full while its socket is full). The
 * application then drops what it can drop (RESULT, DETECTION; counted in STATS.results_dropped)
 * and defers its CREDIT instead of blocking, so it keeps receiving and processing audio. */
int bitear_board_tx_busy(void);

/* Required. Serial input: next received byte (0..255), or -1 when none is waiting. Never blocks. */
int bitear_board_getc(void);

/* Required. Serial input in runs: copies up to max waiting bytes to dst and returns how many (0
 * when none is waiting). Never blocks. */
size_t bitear_board_read(uint8_t *dst, size_t max);

/* Required. Number of received bytes waiting. */
size_t bitear_board_rx_available(void);

/* Default 0. Bytes lost because the receive buffer was full. */
uint32_t bitear_board_rx_dropped(void);

/* Default 0 (not known: e.g. an Arduino core's own buffer). Bytes the receive buffer holds. It
 * must hold every byte the host may send while the application is busy; the application's
 * credit window bounds that to its AUDIO queue (firmware/src/app.h: APP_QUEUE_HOPS frames of at
 * most BITEAR_PROTO_MAX_FRAME bytes) plus a few commands (test_board checks it). */
size_t bitear_board_rx_capacity(void);

/* Required. Sleeps until something arrived on the serial line (or another interrupt fired).
 * Returns at once when bytes are already waiting. */
void bitear_board_wait_for_input(void);

/* Default: bitear_board_wait_for_input. Sleeps until a whole frame may be waiting: a 0x00 byte
 * (the delimiter of the COBS-framed protocol) was received and not yet read, or the RX buffer is
 * half full, or another interrupt fired. Saves waking the application for every byte (on the
 * QEMU board ~250 instructions per byte). */
void bitear_board_wait_for_frame(void);

/* Required. Free-running tick counter (wraps modulo 2^32; use unsigned differences) and its rate.
 * QEMU mps2-an386: SysTick at 25 MHz; with -icount shift=0 one tick = 40 instructions; it
 * stops while bitear_board_wait_for_input sleeps (it measures work, not waiting).
 * STM32F405: SysTick from the CPU clock, cycles (QEMU netduinoplus2: 168 MHz, 21 ticks = 125
 * instructions under -icount shift=0).
 * Arduino Cortex-M4 boards: DWT cycle counter. Cortex-M0+ (Pico) and the host: microseconds. */
uint32_t bitear_board_ticks(void);
uint32_t bitear_board_tick_hz(void);

/* Required. What a RESULT's cost counts on this board (READY.cost_unit: one of
 * BITEAR_PROTO_COST_INSTRUCTIONS, _CYCLES, _MICROSECONDS of bitear_protocol.h), and the cost of
 * a tick difference in that unit (QEMU: 40 instructions per tick; elsewhere 1 cycle or 1 us). */
uint8_t bitear_board_cost_unit(void);
uint32_t bitear_board_cost(uint32_t ticks);

/* Default: no microphone. Microphone, 16 kHz mono int16. bitear_board_mic_start returns 0, or -1
 * when the board has no microphone (then audio comes over the serial line). bitear_board_mic_read
 * copies up to max_samples waiting samples and returns how many (default 0); it never blocks. */
int bitear_board_mic_start(uint32_t sample_rate_hz);
size_t bitear_board_mic_read(int16_t *dst, size_t max_samples);

/* Default 0. Microphone samples lost because the board's own sample buffer was full (the
 * application did not read them in time). */
uint32_t bitear_board_mic_dropped(void);

/* Default 0 (not measured). Stack use: total stack size, and the deepest the stack has been
 * since reset (bytes), found from the paint pattern written at reset (QEMU board). */
size_t bitear_board_stack_size(void);
size_t bitear_board_stack_used(void);

/* Required. Ends the program with an exit code where that means something (QEMU: semihosting
 * SYS_EXIT_EXTENDED, so QEMU's own exit status is the code; host: exit()). Real boards
 * cannot exit: they print the code and stop in a sleep loop. */
void bitear_board_exit(int code);

/* The application's stack size in bytes, for boards whose linker script reserves the stack
 * (QEMU: mps2_an386.ld reads the symbol BITEAR_STACK_SIZE, default 8 KB); other boards ignore
 * the symbol. Write `BITEAR_BOARD_STACK_SIZE(4096);` once, at file scope. */
#define BITEAR_BOARD_STACK_SIZE(bytes) \
    __asm__(".global BITEAR_STACK_SIZE\n.equ BITEAR_STACK_SIZE, " #bytes "\n")

/* Provided by the application (firmware/src/main.c). On boards with a plain main() the
 * application calls them itself; Arduino board files call them from setup() and loop(). */
void bitear_app_setup(void);
void bitear_app_loop(void);

#ifdef __cplusplus
}
#endif

#endif /* BITEAR_BOARD_H */
