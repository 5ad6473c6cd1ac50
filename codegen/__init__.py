"""bitear code generator: checkpoint -> C tables and the integer reference of what the C computes."""
