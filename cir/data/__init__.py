"""Data sets, pretrained weight files and their download/extraction."""
