/* fuzz_frontend.c - libFuzzer target for the integer front end (bitear_frontend.c), built with
 * clang -fsanitize=fuzzer,address,undefined by scripts/fuzz.sh.
 *
 * The input is int16 little-endian audio (zero-padded to whole hops), its first byte a gain
 * shift so quiet and full-scale audio are both reached. It is pushed hop by hop into one front end
 * and, for determinism, again into a second one initialised afresh. Checked: no sanitizer report;
 * the two runs give the same bytes; every value lies in [BITEAR_FRONTEND_FLOOR, 123] (the header's
 * Parseval bound: no int16 input can exceed +123); a hop of digital silence after 160 samples of
 * silence gives BITEAR_FRONTEND_FLOOR in every channel; push refuses NULL pointers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitear_frontend.h"

#define CHECK(cond) do { if (!(cond)) { abort(); } } while (0)
#define MAX_HOPS 64u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bitear_frontend_t a, b;
    static int16_t hops[MAX_HOPS][BITEAR_FRONTEND_HOP];
    static int8_t out_a[MAX_HOPS][BITEAR_FRONTEND_BINS], out_b[BITEAR_FRONTEND_BINS];
    if (size < 1u) {
        return 0;
    }
    const unsigned shift = data[0] % 16u;
    data++;
    size--;
    size_t n_samples = size / 2u;
    size_t n_hops = (n_samples + BITEAR_FRONTEND_HOP - 1u) / BITEAR_FRONTEND_HOP;
    if (n_hops > MAX_HOPS) {
        n_hops = MAX_HOPS;
    }
    memset(hops, 0, sizeof hops);
    for (size_t i = 0; i < n_samples && i < MAX_HOPS * BITEAR_FRONTEND_HOP; i++) {
        const int16_t v = (int16_t)(uint16_t)(data[2u * i] | (data[2u * i + 1u] << 8));
        hops[i / BITEAR_FRONTEND_HOP][i % BITEAR_FRONTEND_HOP] = (int16_t)(v >> shift);
    }
    CHECK(bitear_frontend_init(&a) == BITEAR_OK);
    CHECK(bitear_frontend_push(&a, NULL, out_b) == BITEAR_ERR_NULL);
    for (size_t h = 0; h < n_hops; h++) {
        CHECK(bitear_frontend_push(&a, hops[h], out_a[h]) == BITEAR_OK);
        int silent = 1; /* the whole 480-sample window is zero: this hop and the last 160 before it */
        for (size_t i = 0; i < BITEAR_FRONTEND_HOP; i++) {
            silent &= hops[h][i] == 0;
        }
        for (size_t i = BITEAR_FRONTEND_HOP - BITEAR_FRONTEND_HISTORY; h > 0u && i < BITEAR_FRONTEND_HOP; i++) {
            silent &= hops[h - 1u][i] == 0;
        }
        for (size_t c = 0; c < BITEAR_FRONTEND_BINS; c++) {
            CHECK(out_a[h][c] >= BITEAR_FRONTEND_FLOOR && out_a[h][c] <= 123);
            CHECK(!silent || out_a[h][c] == BITEAR_FRONTEND_FLOOR);
        }
    }
    CHECK(bitear_frontend_init(&b) == BITEAR_OK);
    for (size_t h = 0; h < n_hops; h++) {
        CHECK(bitear_frontend_push(&b, hops[h], out_b) == BITEAR_OK);
        CHECK(memcmp(out_a[h], out_b, sizeof out_b) == 0);
    }
    return 0;
}
