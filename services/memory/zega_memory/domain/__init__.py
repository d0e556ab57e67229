"""Style traits, recall composition and input rules, free of I/O."""
