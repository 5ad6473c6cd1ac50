/* board_qemu_mps2.c - bitear board support for QEMU's mps2-an386 (Cortex-M4F, 25 MHz).
 *
 * Serial: CMSDK UART0 at 0x40004000. It holds a single received byte, so RX is interrupt
 * driven (IRQ 0) into a ring buffer; the handler clears the interrupt before draining, and
 * bitear_board_wait_for_input sleeps with "cpsid i; check; wfi; cpsie i" (other orders can
 * sleep through a byte that arrived in between); bitear_board_wait_for_frame does the same until
 * a 0x00 byte has arrived (the handler counts them). TX polls the TX-full flag, which also tells
 * the application that the host is not reading (bitear_board_tx_busy).
 * Ticks: SysTick from the 25 MHz CPU clock, extended to 32 bits by its wrap interrupt; under
 * QEMU -icount shift=0 one tick is exactly 40 instructions. The counter stops while asleep
 * in bitear_board_wait_for_input: it measures work, not waiting.
 * RESULT costs are instructions (ticks x 40).
 * Exit: Arm semihosting SYS_EXIT_EXTENDED (QEMU needs -semihosting-config enable=on).
 * No microphone (board_defaults.c): audio reaches this board over the serial line.
 */
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)

#include "bitear_board.h"
#include "bitear_protocol.h" /* BITEAR_PROTO_COST_* */
#include "bitear_ring.h"
#include "board_qemu_mps2.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define UART0_BASE 0x40004000u
#define UART_DATA REG32(UART0_BASE + 0x00u)
#define UART_STATE REG32(UART0_BASE + 0x04u)
#define UART_CTRL REG32(UART0_BASE + 0x08u)
#define UART_INTCLR REG32(UART0_BASE + 0x0Cu)
#define UART_BAUDDIV REG32(UART0_BASE + 0x10u)
#define UART_STATE_TX_FULL (1u << 0)
#define UART_STATE_RX_FULL (1u << 1)
#define UART_CTRL_TX_EN (1u << 0)
#define UART_CTRL_RX_EN (1u << 1)
#define UART_CTRL_RX_IRQ_EN (1u << 3)
#define UART_INT_RX (1u << 1)
#define UART0_RX_IRQN 0u

#define NVIC_ISER0 REG32(0xE000E100u)
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CPU_CLOCK (1u << 2)
#define SYST_RELOAD 0x00FFFFFFu

#define CPU_HZ 25000000u
#define RX_RING_SIZE BITEAR_QEMU_RX_RING_SIZE /* board_qemu_mps2.h */

static uint8_t rx_storage[RX_RING_SIZE];
static bitear_ring_t rx_ring;
static volatile uint32_t rx_zeros;  /* 0x00 bytes put into the ring (by the RX interrupt) */
static uint32_t rx_zeros_taken;     /* ... and taken out of it (bitear_board_read / getc) */
static volatile uint32_t systick_wraps;

extern uint32_t __stack_bottom[], __stack_top[];

void bitear_board_init(void)
{
    bitear_ring_init(&rx_ring, rx_storage, RX_RING_SIZE);

    UART_BAUDDIV = 16u; /* QEMU ignores the rate but wants a valid divider */
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_IRQ_EN;
    NVIC_ISER0 = 1u << UART0_RX_IRQN;

    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CPU_CLOCK;

    __asm__ volatile("cpsie i" ::: "memory");
}

const char *bitear_board_name(void)
{
    return "qemu_mps2_an386";
}

void bitear_qemu_uart0_rx_irq(void)
{
    UART_INTCLR = UART_INT_RX; /* clear first: a byte arriving while draining re-raises it */
    while (UART_STATE & UART_STATE_RX_FULL) {
        const uint8_t byte = (uint8_t)UART_DATA;
        if (bitear_ring_push(&rx_ring, byte) == 0 && byte == 0u) {
            rx_zeros++;
        }
    }
}

void bitear_qemu_systick_irq(void)
{
    systick_wraps++;
}

void bitear_board_putc(uint8_t c)
{
    while (UART_STATE & UART_STATE_TX_FULL) {
    }
    UART_DATA = c;
}

int bitear_board_tx_busy(void)
{
    /* QEMU clears TX_FULL as soon as its character device took the byte; it stays set while the
     * socket is full (the host does not read). */
    return (UART_STATE & UART_STATE_TX_FULL) != 0u;
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
    return rx_ring.dropped;
}

size_t bitear_board_rx_capacity(void)
{
    return RX_RING_SIZE;
}

void bitear_board_wait_for_input(void)
{
    __asm__ volatile("cpsid i" ::: "memory");
    if (bitear_ring_count(&rx_ring) == 0u) {
        /* SysTick is stopped while asleep: under -icount ...,sleep=off QEMU would otherwise
         * warp from one SysTick deadline to the next and spin a host core while the board
         * idles. The tick counter therefore does not count sleep (which -icount sleep=off
         * does not measure meaningfully anyway); it resumes where it stopped. */
        SYST_CSR = SYST_CSR_CPU_CLOCK;
        __asm__ volatile("wfi" ::: "memory");
        SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CPU_CLOCK;
    }
    __asm__ volatile("cpsie i" ::: "memory");
}

void bitear_board_wait_for_frame(void)
{
    /* As bitear_board_wait_for_input, but back to sleep after each byte until a frame is complete:
     * the pending interrupt runs between "cpsie i" and "cpsid i", then the check is repeated. */
    __asm__ volatile("cpsid i" ::: "memory");
    while (rx_zeros == rx_zeros_taken && bitear_ring_count(&rx_ring) < RX_RING_SIZE / 2u) {
        SYST_CSR = SYST_CSR_CPU_CLOCK;
        __asm__ volatile("wfi" ::: "memory");
        SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CPU_CLOCK;
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
    return wraps * (SYST_RELOAD + 1u) + (SYST_RELOAD - value);
}

uint32_t bitear_board_tick_hz(void)
{
    return CPU_HZ;
}

uint8_t bitear_board_cost_unit(void)
{
    return BITEAR_PROTO_COST_INSTRUCTIONS;
}

uint32_t bitear_board_cost(uint32_t ticks)
{
    return ticks * BITEAR_QEMU_INSTRUCTIONS_PER_TICK;
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

static void put_uint(uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n > 0) {
        bitear_board_putc((uint8_t)digits[--n]);
    }
}

void bitear_qemu_report_fault(uint32_t ipsr)
{
    bitear_board_puts("\nbitear: fault, exception ");
    put_uint(ipsr & 0x1FFu);
    bitear_board_puts("\n");
    bitear_board_exit(BITEAR_QEMU_FAULT_EXIT);
}

void bitear_board_exit(int code)
{
    /* SYS_EXIT_EXTENDED (0x20): r1 points to {ADP_Stopped_ApplicationExit, exit code}. */
    uint32_t block[2] = {0x20026u, (uint32_t)code};
    register uint32_t r0 __asm__("r0") = 0x20u;
    register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)block;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) { /* only reached when QEMU runs without semihosting */
        __asm__ volatile("wfi");
    }
}

#endif /* BITEAR_BOARD_QEMU_MPS2_AN386 */
