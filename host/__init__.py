"""bitear host package: serial protocol client, emulator launcher, Cortex-M4 instruction counting, evaluation."""
