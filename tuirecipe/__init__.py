"""tuirecipe: a terminal experiment console for training neural networks the careful way."""

__version__ = "0.1.0"
