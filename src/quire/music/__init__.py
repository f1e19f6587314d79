"""Music notation helpers shared by the stages: **kern staves and their encodings."""
