"""bitear model package: the ground floor of the project (facts, errors, paths, labels, audio I/O, JSON output,
the C toolchain, the instruction runner) and training (front-end binding, datasets, teacher, student, evaluation)."""
