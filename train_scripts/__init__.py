"""Training entry points (`python train_scripts/<script>.py --help`); recipes are JSON files in `recipes/`."""
