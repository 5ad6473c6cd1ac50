/* board_qemu_mps2.c - bitear board support for QEMU's mps2-an386 (Cortex-M4F, 25 MHz).
 *
 * Serial: CMSDK UART0 at 0x40004000. It holds a single received byte, so RX is interrupt
 * driven (IRQ 0) into the ring buffer of board_cortex_m.c; the handler clears the interrupt
 * before draining. TX polls the TX-full flag, which also tells the application that the host is
 * not reading (bitear_board_tx_busy).
 * Ticks: SysTick from the 25 MHz CPU clock (board_cortex_m.c); under QEMU -icount shift=0 one
 * tick is exactly 40 instructions, so RESULT costs are instructions (ticks x 40).
 * Exit: Arm semihosting (QEMU needs -semihosting-config enable=on). Start-up, ring buffer,
 * sleep, stack measurement: board_cortex_m.c and startup_cortex_m.c.
 * No microphone (board_defaults.c): audio reaches this board over the serial line.
 */
#if defined(BITEAR_BOARD_QEMU_MPS2_AN386)

#include "bitear_board.h"
#include "bitear_protocol.h" /* BITEAR_PROTO_COST_* */
#include "board_cortex_m.h"
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

#define CPU_HZ 25000000u

void bitear_board_init(void)
{
    UART_BAUDDIV = 16u; /* QEMU ignores the rate but wants a valid divider */
    UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_IRQ_EN;
    NVIC_ISER0 = 1u << UART0_RX_IRQN;
    bitear_cm_init();
}

const char *bitear_board_name(void)
{
    return "qemu_mps2_an386";
}

void bitear_qemu_uart0_rx_irq(void)
{
    UART_INTCLR = UART_INT_RX; /* clear first: a byte arriving while draining re-raises it */
    while (UART_STATE & UART_STATE_RX_FULL) {
        bitear_cm_rx_push((uint8_t)UART_DATA);
    }
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

int bitear_cm_semihosting(void)
{
    return 1; /* this board exists only in QEMU, which runs with semihosting on */
}

#endif /* BITEAR_BOARD_QEMU_MPS2_AN386 */
