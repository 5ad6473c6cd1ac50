/* board_stm32f405.c - bitear board support for the STM32F405RG: the Adafruit Feather STM32F405
 * Express, and QEMU's netduinoplus2 (the same chip) in CI. No vendor HAL: the few registers used
 * are named below (RM0090, the STM32F405 reference manual).
 *
 * Clocks: the 12 MHz crystal (HSE) through the PLL to 168 MHz (AHB 168, APB1 42, APB2 84 MHz,
 * flash 5 wait states), when the crystal starts within a bounded wait; otherwise the 16 MHz
 * internal oscillator stays (QEMU: its RCC is not modelled and reads as zero).
 * Serial: USART3 on PB10/PB11 (board_stm32f405.h), 1,000,000 baud, RX by interrupt into the ring
 * buffer of board_cortex_m.c; TX polls TXE. No TX busy flag (the weak default): a UART without
 * flow control always takes the next byte within one character time.
 * Ticks: SysTick from the CPU clock (board_cortex_m.c), so RESULT costs are CPU cycles. On the
 * chip that is 168 MHz cycles, as the DWT cycle counter would count them. In QEMU (-icount
 * shift=0: one instruction per nanosecond) SysTick runs at a nominal 168 MHz, so a tick is
 * 125/21 (about 5.95) instructions: deterministic, but not a real cycle count.
 * Emulator detection: the DWT cycle counter, enabled at init, stays at zero in QEMU and counts
 * on the chip. Under QEMU the board exits through semihosting; on the chip it cannot (a
 * semihosting call without a debugger faults), so it prints its exit code and sleeps.
 * No microphone (board_defaults.c): audio reaches this board over the serial line.
 */
#if defined(BITEAR_BOARD_STM32F405)

#include "bitear_board.h"
#include "bitear_protocol.h" /* BITEAR_PROTO_COST_* */
#include "board_cortex_m.h"
#include "board_stm32f405.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))

#define RCC_BASE 0x40023800u
#define RCC_CR REG32(RCC_BASE + 0x00u)
#define RCC_PLLCFGR REG32(RCC_BASE + 0x04u)
#define RCC_CFGR REG32(RCC_BASE + 0x08u)
#define RCC_AHB1ENR REG32(RCC_BASE + 0x30u)
#define RCC_APB1ENR REG32(RCC_BASE + 0x40u)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_PLLCFGR_SRC_HSE (1u << 22)
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_PPRE1_DIV4 (5u << 10)
#define RCC_CFGR_PPRE2_DIV2 (4u << 13)
#define RCC_AHB1ENR_GPIOB (1u << 1)
#define RCC_APB1ENR_USART3 (1u << 18)

/* PLL: 12 MHz / M 12 = 1 MHz; x N 336 = 336 MHz; / P 2 = 168 MHz (/ Q 7 = 48 MHz for USB). */
#define PLL_M (BITEAR_STM32_HSE_HZ / 1000000u)
#define PLL_N 336u
#define PLL_P 2u
#define PLL_Q 7u
#define APB1_DIVIDER 4u
#define CLOCK_WAIT_LOOPS 500000u /* about 0.2 s on the 16 MHz HSI; a crystal starts in ~2 ms */

#define FLASH_ACR REG32(0x40023C00u)
#define FLASH_ACR_5_WAIT_STATES 5u /* 168 MHz at 2.7-3.6 V */
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)

#define GPIOB_BASE 0x40020400u
#define GPIOB_MODER REG32(GPIOB_BASE + 0x00u)
#define GPIOB_OSPEEDR REG32(GPIOB_BASE + 0x08u)
#define GPIOB_PUPDR REG32(GPIOB_BASE + 0x0Cu)
#define GPIOB_AFRH REG32(GPIOB_BASE + 0x24u)
#define PIN_TX 10u
#define PIN_RX 11u
#define AF7_USART 7u

#define USART3_BASE 0x40004800u
#define USART_SR REG32(USART3_BASE + 0x00u)
#define USART_DR REG32(USART3_BASE + 0x04u)
#define USART_BRR REG32(USART3_BASE + 0x08u)
#define USART_CR1 REG32(USART3_BASE + 0x0Cu)
#define USART_SR_ORE (1u << 3)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_UE (1u << 13)

#define NVIC_ISER(irq) REG32(0xE000E100u + 4u * ((irq) / 32u))

#define DEMCR REG32(0xE000EDFCu)
#define DEMCR_TRCENA (1u << 24)
#define DWT_CTRL REG32(0xE0001000u)
#define DWT_CYCCNT REG32(0xE0001004u)
#define DWT_CTRL_CYCCNTENA 1u

static uint32_t cpu_hz = BITEAR_STM32_HSI_HZ;
static uint32_t apb1_hz = BITEAR_STM32_HSI_HZ;
static int emulated;

/* 1 when the DWT cycle counter does not count: QEMU. */
static int detect_emulator(void)
{
    DEMCR |= DEMCR_TRCENA;
    DWT_CYCCNT = 0u;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
    for (volatile int i = 0; i < 16; i++) {
    }
    return DWT_CYCCNT == 0u;
}

static int wait_for(uint32_t mask)
{
    for (uint32_t i = 0; i < CLOCK_WAIT_LOOPS; i++) {
        if (RCC_CR & mask) {
            return 1;
        }
    }
    return 0;
}

/* HSE -> PLL -> 168 MHz; leaves the HSI running (and returns without change) when the crystal or
 * the PLL does not start. The voltage regulator's reset setting (scale 1) allows 168 MHz. */
static void start_clocks(void)
{
    RCC_CR |= RCC_CR_HSEON;
    if (!wait_for(RCC_CR_HSERDY)) {
        RCC_CR &= ~RCC_CR_HSEON;
        return;
    }
    RCC_PLLCFGR = PLL_M | (PLL_N << 6) | ((PLL_P / 2u - 1u) << 16) | RCC_PLLCFGR_SRC_HSE | (PLL_Q << 24);
    RCC_CR |= RCC_CR_PLLON;
    if (!wait_for(RCC_CR_PLLRDY)) {
        RCC_CR &= ~(RCC_CR_PLLON | RCC_CR_HSEON);
        return;
    }
    FLASH_ACR = FLASH_ACR_5_WAIT_STATES | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    RCC_CFGR = RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2; /* bus dividers first, then the switch */
    RCC_CFGR |= RCC_CFGR_SW_PLL;
    while ((RCC_CFGR & RCC_CFGR_SWS_MASK) != RCC_CFGR_SWS_PLL) {
    }
    cpu_hz = BITEAR_STM32_SYSCLK_HZ;
    apb1_hz = BITEAR_STM32_SYSCLK_HZ / APB1_DIVIDER;
}

static void start_usart3(void)
{
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOB;
    RCC_APB1ENR |= RCC_APB1ENR_USART3;
    GPIOB_MODER = (GPIOB_MODER & ~((3u << (2u * PIN_TX)) | (3u << (2u * PIN_RX))))
                  | (2u << (2u * PIN_TX)) | (2u << (2u * PIN_RX)); /* alternate function */
    GPIOB_OSPEEDR |= (2u << (2u * PIN_TX));                        /* fast edges on TX */
    GPIOB_PUPDR = (GPIOB_PUPDR & ~(3u << (2u * PIN_RX))) | (1u << (2u * PIN_RX)); /* RX pull-up */
    GPIOB_AFRH = (GPIOB_AFRH & ~((0xFu << (4u * (PIN_TX - 8u))) | (0xFu << (4u * (PIN_RX - 8u)))))
                 | (AF7_USART << (4u * (PIN_TX - 8u))) | (AF7_USART << (4u * (PIN_RX - 8u)));
    USART_BRR = (apb1_hz + BITEAR_STM32_BAUD / 2u) / BITEAR_STM32_BAUD; /* 16 x USARTDIV, 16x oversampling */
    USART_CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;
    NVIC_ISER(BITEAR_STM32_USART3_IRQN) = 1u << (BITEAR_STM32_USART3_IRQN % 32u);
}

void bitear_board_init(void)
{
    emulated = detect_emulator();
    start_clocks();
    start_usart3();
    bitear_cm_init();
}

const char *bitear_board_name(void)
{
    return "feather_f405";
}

void bitear_stm32_usart3_irq(void)
{
    uint32_t sr;
    while ((sr = USART_SR) & (USART_SR_RXNE | USART_SR_ORE)) {
        const uint8_t byte = (uint8_t)USART_DR; /* reading SR, then DR, clears RXNE and ORE */
        if (sr & USART_SR_ORE) {
            bitear_cm_rx_lost();
        }
        bitear_cm_rx_push(byte);
    }
}

void bitear_board_putc(uint8_t c)
{
    while (!(USART_SR & USART_SR_TXE)) {
    }
    USART_DR = c;
}

uint32_t bitear_board_tick_hz(void)
{
    return emulated ? BITEAR_STM32_SYSCLK_HZ : cpu_hz; /* QEMU's SysTick: 168 MHz whatever the RCC says */
}

uint8_t bitear_board_cost_unit(void)
{
    return BITEAR_PROTO_COST_CYCLES;
}

uint32_t bitear_board_cost(uint32_t ticks)
{
    return ticks; /* SysTick counts CPU cycles */
}

int bitear_cm_semihosting(void)
{
    return detect_emulator(); /* asked afresh: a fault may come before bitear_board_init */
}

#endif /* BITEAR_BOARD_STM32F405 */
