/* main.c - the bitear firmware: the keyword-spotting application (app.h) on a board
 * (bitear_board.h), speaking the binary serial protocol v1 (docs/protocol.md).
 *
 * At start-up the board sends READY (protocol version, board, model identity, labels, sample
 * rate, hop, N, cost unit) and a CREDIT. Then, forever:
 *   1. received bytes are taken from the board's RX buffer in runs and decoded; AUDIO frames go
 *      into the hop queue, commands are done and ACKed;
 *   2. on a board with a microphone (Nano 33 BLE Sense: PDM through board_arduino), its samples
 *      go into the hop queue instead (bitear_board_mic_start says whether there is one);
 *   3. one queued hop is processed (front end; every N hops an inference -> RESULT, detector ->
 *      DETECTION; CREDIT as the queue frees up); while the host is not reading (the line is busy)
 *      results are dropped and counted and the CREDIT waits for the line (app_flush), so the board
 *      keeps receiving instead of blocking on a write;
 *   4. with nothing to do the board sleeps until a whole frame may have arrived (QEMU board:
 *      "cpsid i; check; wfi; cpsie i" in bitear_board_wait_for_frame, so a byte arriving in
 *      between is not missed; it sleeps on through the bytes of a frame up to its 0x00).
 * One hop per pass: bytes are drained between hops, so the RX buffer only ever holds what the
 * host may send under credit. Nothing is allocated; all state is the static app below.
 */
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "bitear_board.h"

#if !defined(PIO_UNIT_TESTING)
/* The application's stack: 4 KB instead of the QEMU board's default 8 KB (RAM budget 24 KB). Its
 * high-water mark while streaming is ~800 bytes (STATS.stack_used). Boards whose linker script
 * does not reserve the stack ignore it. (Whether the board's receive buffer holds the credit
 * window is checked by test_board.) */
BITEAR_BOARD_STACK_SIZE(4096);
#endif

static app_t app;

static void write_frame(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx;
    bitear_board_write(frame, len);
}

static int line_busy(void *ctx)
{
    (void)ctx;
    return bitear_board_tx_busy();
}

void bitear_app_setup(void)
{
    bitear_board_init();
    const int mic = bitear_board_mic_start(BITEAR_SAMPLE_RATE) == 0;
    (void)app_init(&app, write_frame, NULL, mic);
    app.tx_busy = line_busy; /* a host that stops reading costs results, not audio (app.h) */
    app_start(&app);
}

void bitear_app_loop(void)
{
    static uint8_t rx[128];
    size_t n;
    while ((n = bitear_board_read(rx, sizeof rx)) > 0u) {
        app_rx(&app, rx, n);
    }
    app_poll_mic(&app);
    if (!app_step(&app) && !app_flush(&app)) { /* a deferred CREDIT: poll until the line is free */
        if (app.mic) {
            bitear_board_wait_for_input(); /* microphone samples wake it too */
        } else {
            bitear_board_wait_for_frame(); /* not woken for every byte of a frame */
        }
    }
}

/* Arduino cores own main() and call setup()/loop() (board_arduino); Unity tests bring their own
 * main() and use app.h directly (test_build_src). */
#if !defined(ARDUINO) && !defined(PIO_UNIT_TESTING)
int main(void)
{
    bitear_app_setup();
    for (;;) {
        bitear_app_loop();
    }
}
#endif
