"""Small general tools, each usable on its own."""
