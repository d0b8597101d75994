"""The sizes every part of digitpad agrees on: the model's input, its classes, and the paper."""

IMAGE_SIZE = 28  # side of an MNIST image, and of every image a model reads
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE
NUM_CLASSES = 10  # the digits 0-9
PAPER_SIZE = 400.0  # side of the drawing paper in stroke units (the size pen digits are placed on)
