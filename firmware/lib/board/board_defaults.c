/* board_defaults.c - weak defaults of the optional board functions (bitear_board.h, "Default"),
 * for boards without the feature: no microphone, no stack painting, no count of lost RX bytes, no
 * known receive-buffer size, no frame-aware sleep, no TX busy flag. A board that has the feature defines the
 * function in its own file; the linker then takes that definition instead of the weak one.
 * (Weak symbols: GCC and Clang, every toolchain bitear builds with.) */
#include "bitear_board.h"

#define BITEAR_WEAK __attribute__((weak))

BITEAR_WEAK int bitear_board_mic_start(uint32_t sample_rate_hz)
{
    (void)sample_rate_hz;
    return -1; /* no microphone: audio comes over the serial line */
}

BITEAR_WEAK size_t bitear_board_mic_read(int16_t *dst, size_t max_samples)
{
    (void)dst;
    (void)max_samples;
    return 0u;
}

BITEAR_WEAK uint32_t bitear_board_mic_dropped(void)
{
    return 0u;
}

BITEAR_WEAK size_t bitear_board_stack_size(void)
{
    return 0u; /* the stack is not painted: not measured */
}

BITEAR_WEAK size_t bitear_board_stack_used(void)
{
    return 0u;
}

BITEAR_WEAK uint32_t bitear_board_rx_dropped(void)
{
    return 0u;
}

BITEAR_WEAK size_t bitear_board_rx_capacity(void)
{
    return 0u; /* not known */
}

BITEAR_WEAK void bitear_board_wait_for_frame(void)
{
    bitear_board_wait_for_input(); /* cannot tell where frames end: wake for any byte */
}

BITEAR_WEAK int bitear_board_tx_busy(void)
{
    return 0; /* not known: a write waits until the line takes it */
}
