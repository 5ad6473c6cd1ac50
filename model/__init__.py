"""bitear model package: front-end binding, datasets, teacher, binary student, training, evaluation."""
