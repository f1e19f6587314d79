"""Sequence recognition of staves and text lines (CRNN + CTC)."""
