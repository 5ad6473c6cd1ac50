/* board_cortex_m.c - the parts of bitear_board.h that every bare-metal Cortex-M4F board of
 * bitear shares (QEMU mps2-an386, STM32F405); the chip's board file adds its clocks and UART.
 *
 * Serial RX: the chip's UART interrupt hands each byte to bitear_cm_rx_push, which puts it into
 * a ring buffer and counts the 0x00 bytes (frame delimiters); bitear_board_wait_for_input sleeps
 * with "cpsid i; check; wfi; cpsie i" (other orders can sleep through a byte that arrived in
 * between); bitear_board_wait_for_frame does the same until a 0x00 byte has arrived.
 * Ticks: SysTick from the CPU clock, extended to 32 bits by its wrap interrupt. It stops while
 * asleep in the two waits: it measures work, not waiting (and under QEMU -icount ...,sleep=off a
 * running SysTick would make QEMU warp from one deadline to the next and spin a host core while
 * the board idles).
 * Stack: painted at reset (startup_cortex_m.c); the high-water mark is the deepest unpainted word.
 * Exit: Arm semihosting SYS_EXIT_EXTENDED where the chip says it answers (QEMU), else a line on
 * the serial line and sleep.
 */
#include "board_cortex_m.h"

#if defined(BITEAR_BOARD_CORTEX_M)

#include "bitear_board.h"
#include "bitear_ring.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CPU_CLOCK (1u << 2)
#define SYST_RUNNING (SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CPU_CLOCK)

static uint8_t rx_storage[BITEAR_RX_RING_SIZE];
static bitear_ring_t rx_ring;
static volatile uint32_t rx_zeros;  /* 0x00 bytes put into the ring (by the RX interrupt) */
static uint32_t rx_zeros_taken;     /* ... and taken out of it (bitear_board_read / getc) */
static volatile uint32_t rx_lost;    /* bytes the UART itself lost (overrun), bitear_cm_rx_lost */
static volatile uint32_t systick_wraps;

void bitear_cm_init(void)
{
    bitear_ring_init(&rx_ring, rx_storage, BITEAR_RX_RING_SIZE);
    SYST_RVR = BITEAR_SYSTICK_RELOAD;
    SYST_CVR = 0u;
    SYST_CSR = SYST_RUNNING;
    __asm__ volatile("cpsie i" ::: "memory");
}

void bitear_cm_rx_push(uint8_t byte)
{
    if (bitear_ring_push(&rx_ring, byte) == 0 && byte == 0u) {
        rx_zeros++;
    }
}

void bitear_cm_rx_lost(void)
{
    rx_lost++;
}

void bitear_cm_systick_irq(void)
{
    systick_wraps++;
}

void bitear_board_write(const void *data, size_t n)
{
    const uint8_t *p = (const uint8_t *)data;
    for (size_t i = 0; i < n; i++) {
        bitear_board_putc(p[i]);
    }
}

void bitear_board_puts(const char *s)
{
    while (*s) {
        bitear_board_putc((uint8_t)*s++);
    }
}

int bitear_board_getc(void)
{
    const int c = bitear_ring_pop(&rx_ring);
    if (c == 0) {
        rx_zeros_taken++;
    }
    return c;
}

size_t bitear_board_read(uint8_t *dst, size_t max)
{
    const size_t n = bitear_ring_read(&rx_ring, dst, max);
    for (size_t i = 0; i < n; i++) {
        rx_zeros_taken += dst[i] == 0u;
    }
    return n;
}

size_t bitear_board_rx_available(void)
{
    return bitear_ring_count(&rx_ring);
}

uint32_t bitear_board_rx_dropped(void)
{
    return rx_ring.dropped + rx_lost;
}

size_t bitear_board_rx_capacity(void)
{
    return BITEAR_RX_RING_SIZE;
}

/* Sleeps with SysTick stopped (see the top of this file); it resumes where it stopped. */
static void sleep_until_interrupt(void)
{
    SYST_CSR = SYST_CSR_CPU_CLOCK;
    __asm__ volatile("wfi" ::: "memory");
    SYST_CSR = SYST_RUNNING;
}

void bitear_board_wait_for_input(void)
{
    __asm__ volatile("cpsid i" ::: "memory");
    if (bitear_ring_count(&rx_ring) == 0u) {
        sleep_until_interrupt();
    }
    __asm__ volatile("cpsie i" ::: "memory");
}

void bitear_board_wait_for_frame(void)
{
    /* As bitear_board_wait_for_input, but back to sleep after each byte until a frame is complete:
     * the pending interrupt runs between "cpsie i" and "cpsid i", then the check is repeated. */
    __asm__ volatile("cpsid i" ::: "memory");
    while (rx_zeros == rx_zeros_taken && bitear_ring_count(&rx_ring) < BITEAR_RX_RING_SIZE / 2u) {
        sleep_until_interrupt();
        __asm__ volatile("cpsie i\n\tcpsid i" ::: "memory");
    }
    __asm__ volatile("cpsie i" ::: "memory");
}

uint32_t bitear_board_ticks(void)
{
    uint32_t wraps, value;
    do { /* re-read when the wrap interrupt ran in between */
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps);
    return wraps * (BITEAR_SYSTICK_RELOAD + 1u) + (BITEAR_SYSTICK_RELOAD - value);
}

size_t bitear_board_stack_size(void)
{
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}

size_t bitear_board_stack_used(void)
{
    const uint32_t *p = __stack_bottom;
    while (p < __stack_top && *p == BITEAR_STACK_PAINT) {
        p++;
    }
    return (size_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

static void put_int(int value)
{
    char digits[11];
    int n = 0;
    uint32_t v = value < 0 ? 0u - (uint32_t)value : (uint32_t)value;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    if (value < 0) {
        bitear_board_putc((uint8_t)'-');
    }
    while (n > 0) {
        bitear_board_putc((uint8_t)digits[--n]);
    }
}

void bitear_cm_report_fault(uint32_t ipsr)
{
    bitear_board_puts("\nbitear: fault, exception ");
    put_int((int)(ipsr & 0x1FFu));
    bitear_board_puts("\n");
    bitear_board_exit(BITEAR_FAULT_EXIT);
}

void bitear_board_exit(int code)
{
    if (bitear_cm_semihosting()) {
        /* SYS_EXIT_EXTENDED (0x20): r1 points to {ADP_Stopped_ApplicationExit, exit code}. */
        uint32_t block[2] = {0x20026u, (uint32_t)code};
        register uint32_t r0 __asm__("r0") = 0x20u;
        register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)block;
        __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    } else {
        bitear_board_puts("\nbitear: exit ");
        put_int(code);
        bitear_board_puts("\n");
    }
    __asm__ volatile("cpsid i" ::: "memory");
    for (;;) { /* a chip cannot exit (nor QEMU without semihosting): sleep */
        __asm__ volatile("wfi");
    }
}

#endif /* BITEAR_BOARD_CORTEX_M */
