"""The headless command line (`python main.py summary|train|export ...`)."""
