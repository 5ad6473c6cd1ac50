/* test_main.c - Unity tests of bitear's board support (firmware/lib/board).
 *
 * Every env (qemu_m4, feather_f405, host): the serial RX ring buffer, the tick counter, the cost
 * unit, the weak defaults of a board without microphone (board_defaults.c), and that a receive
 * buffer of known size holds the application's credit window.
 * The bare-metal boards (qemu_m4 in QEMU mps2-an386, feather_f405 in QEMU netduinoplus2): what
 * the start-up code promises (FPU on, .data copied, .bss zeroed, stack painted and measurable,
 * MPU guard below the stack) and the tick rate under QEMU -icount (mps2-an386: 1 tick = 40
 * instructions; netduinoplus2: SysTick at 168 MHz, 21 ticks = 125 instructions).
 * The UART RX interrupt path end to end (bytes from the host to the ring) is tested from
 * Python in tests/test_emulator.py.
 */
#include <stdint.h>
#include <string.h>

#include "app.h" /* APP_QUEUE_HOPS: the credit window the receive buffer must hold */
#include "bitear_board.h"
#include "bitear_protocol.h"
#include "bitear_ring.h"
#include "board_cortex_m.h" /* BITEAR_BOARD_CORTEX_M: a bare-metal board */
#include "unity.h"

/* ---- ring buffer --------------------------------------------------------------------------- */

static uint8_t storage[16];
static bitear_ring_t ring;

void setUp(void)
{
    memset(storage, 0xEE, sizeof storage);
    TEST_ASSERT_EQUAL_INT(0, bitear_ring_init(&ring, storage, sizeof storage));
}

void test_ring_rejects_capacity_that_is_not_a_power_of_two(void)
{
    bitear_ring_t r;
    TEST_ASSERT_EQUAL_INT(-1, bitear_ring_init(&r, storage, 12));
    TEST_ASSERT_EQUAL_INT(-1, bitear_ring_init(&r, storage, 1));
    TEST_ASSERT_EQUAL_INT(-1, bitear_ring_init(&r, storage, 0));
    TEST_ASSERT_EQUAL_INT(0, bitear_ring_init(&r, storage, 2));
}

void test_ring_empty_pop_returns_minus_one(void)
{
    TEST_ASSERT_EQUAL_INT(-1, bitear_ring_pop(&ring));
    TEST_ASSERT_EQUAL_UINT(0, bitear_ring_count(&ring));
}

void test_ring_keeps_order_and_all_byte_values(void)
{
    /* 0x00 and 0xFF must come back as bytes, not be confused with the -1 "empty" result */
    const uint8_t in[] = {0x00, 0xFF, 0x80, 0x7F, 0x01};
    for (size_t i = 0; i < sizeof in; i++) {
        TEST_ASSERT_EQUAL_INT(0, bitear_ring_push(&ring, in[i]));
    }
    TEST_ASSERT_EQUAL_UINT(sizeof in, bitear_ring_count(&ring));
    for (size_t i = 0; i < sizeof in; i++) {
        TEST_ASSERT_EQUAL_INT(in[i], bitear_ring_pop(&ring));
    }
    TEST_ASSERT_EQUAL_INT(-1, bitear_ring_pop(&ring));
}

void test_ring_full_drops_new_bytes_and_counts_them(void)
{
    for (int i = 0; i < 16; i++) {
        TEST_ASSERT_EQUAL_INT(0, bitear_ring_push(&ring, (uint8_t)i));
    }
    TEST_ASSERT_EQUAL_INT(-1, bitear_ring_push(&ring, 0xAA));
    TEST_ASSERT_EQUAL_INT(-1, bitear_ring_push(&ring, 0xBB));
    TEST_ASSERT_EQUAL_UINT32(2, ring.dropped);
    TEST_ASSERT_EQUAL_UINT(16, bitear_ring_count(&ring));
    for (int i = 0; i < 16; i++) { /* the 16 stored bytes are intact, the dropped ones absent */
        TEST_ASSERT_EQUAL_INT(i, bitear_ring_pop(&ring));
    }
    TEST_ASSERT_EQUAL_INT(-1, bitear_ring_pop(&ring));
}

void test_ring_wraps_around_with_varying_fill(void)
{
    /* Push and pop bursts of changing length so reads and writes cross the end of the
     * storage at many different offsets; the byte stream must come out unchanged. */
    uint8_t next_in = 0, next_out = 0;
    uint32_t lcg = 12345u;
    for (int round = 0; round < 200; round++) {
        lcg = lcg * 1103515245u + 12345u;
        unsigned burst = 1u + (lcg >> 16) % 16u;
        for (unsigned i = 0; i < burst && bitear_ring_count(&ring) < 16u; i++) {
            TEST_ASSERT_EQUAL_INT(0, bitear_ring_push(&ring, next_in++));
        }
        unsigned take = (lcg >> 8) % (unsigned)(bitear_ring_count(&ring) + 1u);
        for (unsigned i = 0; i < take; i++) {
            TEST_ASSERT_EQUAL_INT(next_out++, bitear_ring_pop(&ring));
        }
    }
    while (bitear_ring_count(&ring) > 0u) {
        TEST_ASSERT_EQUAL_INT(next_out++, bitear_ring_pop(&ring));
    }
    TEST_ASSERT_EQUAL_UINT8(next_in, next_out);
    TEST_ASSERT_EQUAL_UINT32(0, ring.dropped);
}

void test_ring_counters_wrap_past_2_pow_32(void)
{
    ring.head = ring.tail = 0xFFFFFFFEu; /* as after ~4 GB of traffic */
    for (int i = 0; i < 5; i++) {
        TEST_ASSERT_EQUAL_INT(0, bitear_ring_push(&ring, (uint8_t)(10 + i)));
    }
    TEST_ASSERT_EQUAL_UINT(5, bitear_ring_count(&ring));
    for (int i = 0; i < 5; i++) {
        TEST_ASSERT_EQUAL_INT(10 + i, bitear_ring_pop(&ring));
    }
    TEST_ASSERT_EQUAL_UINT(0, bitear_ring_count(&ring));
}

/* ---- tick counter -------------------------------------------------------------------------- */

static volatile uint32_t sink;

static void busy_work(uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        sink += i;
    }
}

void test_ticks_advance_and_rate_is_known(void)
{
    TEST_ASSERT_GREATER_THAN_UINT32(0, bitear_board_tick_hz());
    uint32_t t0 = bitear_board_ticks();
    busy_work(200000u);
    uint32_t t1 = bitear_board_ticks();
    busy_work(200000u);
    uint32_t t2 = bitear_board_ticks();
    TEST_ASSERT_GREATER_THAN_UINT32(0, t1 - t0);
    TEST_ASSERT_GREATER_THAN_UINT32(0, t2 - t1);
}

void test_cost_unit_and_cost_of_ticks(void)
{
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)
    TEST_ASSERT_EQUAL_UINT8(BITEAR_PROTO_COST_INSTRUCTIONS, bitear_board_cost_unit());
    TEST_ASSERT_EQUAL_UINT32(200000u, bitear_board_cost(5000u)); /* 40 instructions per tick */
#elif defined(BITEAR_BOARD_STM32F405)
    TEST_ASSERT_EQUAL_UINT8(BITEAR_PROTO_COST_CYCLES, bitear_board_cost_unit());
    TEST_ASSERT_EQUAL_UINT32(5000u, bitear_board_cost(5000u)); /* SysTick counts CPU cycles */
    TEST_ASSERT_EQUAL_UINT32(168000000u, bitear_board_tick_hz()); /* QEMU's SysTick, or the PLL on the chip */
#else
    TEST_ASSERT_EQUAL_UINT8(BITEAR_PROTO_COST_MICROSECONDS, bitear_board_cost_unit());
    TEST_ASSERT_EQUAL_UINT32(5000u, bitear_board_cost(5000u)); /* ticks are microseconds */
#endif
}

void test_no_microphone_comes_from_the_weak_defaults(void)
{
    int16_t samples[4] = {7, 7, 7, 7};
    TEST_ASSERT_EQUAL_INT(-1, bitear_board_mic_start(16000u));
    TEST_ASSERT_EQUAL_UINT(0u, bitear_board_mic_read(samples, 4u));
    TEST_ASSERT_EQUAL_INT16(7, samples[0]); /* nothing written */
    TEST_ASSERT_EQUAL_UINT32(0u, bitear_board_mic_dropped());
#if defined(BITEAR_BOARD_HOST)
    TEST_ASSERT_EQUAL_UINT(0u, bitear_board_stack_size()); /* no stack painting: not measured */
    TEST_ASSERT_EQUAL_UINT(0u, bitear_board_stack_used());
    TEST_ASSERT_EQUAL_UINT(0u, bitear_board_rx_capacity()); /* a pipe: no buffer of ours */
#endif
}

void test_receive_buffer_holds_the_credit_window(void)
{
    const size_t capacity = bitear_board_rx_capacity();
#if defined(BITEAR_BOARD_CORTEX_M)
    TEST_ASSERT_EQUAL_UINT(2048u, capacity); /* its own ring, board_cortex_m.h */
#endif
    if (capacity != 0u) { /* AUDIO frames the host may send under credit, and a few commands */
        TEST_ASSERT_GREATER_OR_EQUAL(APP_QUEUE_HOPS * BITEAR_PROTO_MAX_FRAME + 256u, capacity);
    }
}

#if defined(BITEAR_BOARD_CORTEX_M)

/* ---- bare-metal Cortex-M4F start-up -------------------------------------------------------- */

static uint32_t initialised_word = 0xB17EA12u;
static uint32_t zeroed_words[32];

void test_startup_copied_data_and_zeroed_bss(void)
{
    TEST_ASSERT_EQUAL_HEX32(0xB17EA12u, initialised_word);
    for (size_t i = 0; i < 32; i++) {
        TEST_ASSERT_EQUAL_HEX32(0, zeroed_words[i]);
    }
}

void test_startup_enabled_the_fpu(void)
{
    const volatile uint32_t *cpacr = (const volatile uint32_t *)0xE000ED88u;
    TEST_ASSERT_EQUAL_HEX32(0xFu << 20, *cpacr & (0xFu << 20));
    volatile float a = 1.5f, b = -2.25f; /* a disabled FPU would fault here */
    TEST_ASSERT_EQUAL_FLOAT(-3.375f, a * b);
}

__attribute__((noinline, noipa)) static uint32_t use_stack(uint32_t n)
{
    volatile uint8_t buf[1024];
    for (uint32_t i = 0; i < sizeof buf; i++) {
        buf[i] = (uint8_t)(i + n);
    }
    return buf[n % sizeof buf];
}

void test_stack_is_painted_and_high_water_grows(void)
{
    size_t size = bitear_board_stack_size();
    TEST_ASSERT_EQUAL_UINT(8192, size);
    size_t before = bitear_board_stack_used();
    TEST_ASSERT_GREATER_THAN(0, before);
    TEST_ASSERT_LESS_THAN(size / 2, before);
    TEST_ASSERT_EQUAL_UINT32(14u, use_stack(7u)); /* buf[7] = 7 + 7 */
    size_t after = bitear_board_stack_used();
    TEST_ASSERT_GREATER_THAN(before, after); /* the 1 KB frame went deeper than ever before */
    TEST_ASSERT_GREATER_OR_EQUAL(1024, after);
    TEST_ASSERT_LESS_THAN(size, after);
}

void test_stack_guard_is_armed_below_the_stack(void)
{
    extern uint32_t __stack_bottom[];
    const volatile uint32_t *mpu_ctrl = (const volatile uint32_t *)0xE000ED94u;
    volatile uint32_t *mpu_rnr = (volatile uint32_t *)0xE000ED98u;
    const volatile uint32_t *mpu_rbar = (const volatile uint32_t *)0xE000ED9Cu;
    const volatile uint32_t *mpu_rasr = (const volatile uint32_t *)0xE000EDA0u;
    TEST_ASSERT_EQUAL_HEX32(1u, *mpu_ctrl & 1u);
    *mpu_rnr = 0u;
    TEST_ASSERT_EQUAL_HEX32((uint32_t)(uintptr_t)__stack_bottom - 32u, *mpu_rbar & ~0x1Fu);
    TEST_ASSERT_EQUAL_HEX32(0u, (*mpu_rasr >> 24) & 7u); /* AP = no access */
    TEST_ASSERT_EQUAL_HEX32(1u, *mpu_rasr & 1u);
}

/* 2 instructions per iteration (subs + bne), so n iterations are 2n instructions. */
__attribute__((noinline, noipa)) static void spin_2n_instructions(uint32_t n)
{
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n)::"cc");
}

void test_ticks_count_instructions_under_icount(void)
{
    uint32_t t0 = bitear_board_ticks();
    spin_2n_instructions(100000u);
    uint32_t t1 = bitear_board_ticks();
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)
    /* 200000 instructions / 40 = 5000 ticks, plus a few for the calls around the loop */
    TEST_ASSERT_UINT32_WITHIN(5, 5000u, t1 - t0);
#else
    /* 200000 ns at 168 MHz = 33600 ticks, plus a few for the calls around the loop (on the chip,
     * where the loop takes about 3 cycles per iteration with the flash accelerator, this fails:
     * the test describes QEMU) */
    TEST_ASSERT_UINT32_WITHIN(5, 33600u, t1 - t0);
#endif
}

#if defined(BITEAR_BOARD_STM32F405)
void test_ticks_wrap_past_the_24_bit_systick(void)
{
    /* SysTick is 24 bits; its wrap interrupt extends it. 128 M instructions are 21,504,000 ticks
     * at 168 MHz, more than 2^24: the span still measures right and never goes backwards.
     * (On mps2-an386 a wrap takes 2^24 x 40 instructions, too long for a unit test.) */
    const uint32_t t0 = bitear_board_ticks();
    uint32_t last = t0;
    for (int i = 0; i < 64; i++) {
        spin_2n_instructions(1000000u);
        const uint32_t now = bitear_board_ticks();
        TEST_ASSERT_UINT32_WITHIN(20, 336000u, now - last);
        last = now;
    }
    TEST_ASSERT_UINT32_WITHIN(64u * 20u, 21504000u, last - t0); /* each step within 20 */
}
#endif

#endif /* BITEAR_BOARD_CORTEX_M */

int main(void)
{
    bitear_board_init();
    UNITY_BEGIN();
    RUN_TEST(test_ring_rejects_capacity_that_is_not_a_power_of_two);
    RUN_TEST(test_ring_empty_pop_returns_minus_one);
    RUN_TEST(test_ring_keeps_order_and_all_byte_values);
    RUN_TEST(test_ring_full_drops_new_bytes_and_counts_them);
    RUN_TEST(test_ring_wraps_around_with_varying_fill);
    RUN_TEST(test_ring_counters_wrap_past_2_pow_32);
    RUN_TEST(test_ticks_advance_and_rate_is_known);
    RUN_TEST(test_cost_unit_and_cost_of_ticks);
    RUN_TEST(test_no_microphone_comes_from_the_weak_defaults);
    RUN_TEST(test_receive_buffer_holds_the_credit_window);
#if defined(BITEAR_BOARD_CORTEX_M)
    RUN_TEST(test_startup_copied_data_and_zeroed_bss);
    RUN_TEST(test_startup_enabled_the_fpu);
    RUN_TEST(test_stack_is_painted_and_high_water_grows);
    RUN_TEST(test_stack_guard_is_armed_below_the_stack);
    RUN_TEST(test_ticks_count_instructions_under_icount);
#endif
#if defined(BITEAR_BOARD_STM32F405)
    RUN_TEST(test_ticks_wrap_past_the_24_bit_systick);
#endif
    return UNITY_END();
}
