/* startup_stm32f405.c - vector table of the STM32F405 (Adafruit Feather STM32F405 Express,
 * QEMU netduinoplus2): the Cortex-M core exceptions, then the chip's 82 interrupts, of which
 * bitear uses USART3 (IRQ 39). Every other one reports a fault. Reset and fault handlers:
 * startup_cortex_m.c.
 */
#if defined(BITEAR_BOARD_STM32F405)

#include <stdint.h>

#include "board_cortex_m.h"
#include "board_stm32f405.h"

#define F Fault_Handler
#define F8 F, F, F, F, F, F, F, F

__attribute__((section(".isr_vector"), used)) const bitear_vector_t bitear_vector_table[16 + 82] = {
    BITEAR_CORTEX_M_CORE_VECTORS,
    [16 + 0] = F8, F8, F8, F8, F, F, F, F, F, F, F, /* IRQ 0..38 */
    [16 + BITEAR_STM32_USART3_IRQN] = bitear_stm32_usart3_irq,
    [16 + 40] = F8, F8, F8, F8, F8, F, F, /* IRQ 40..81 */
};

#endif /* BITEAR_BOARD_STM32F405 */
